// Judges SNS corpus requests with AWS's own sns-validator (MessageValidator.validate). Its certificate download
// (https.get of the message's SigningCertURL) is answered from the certificates given here, so nothing reaches
// the network; a URL it is not given answers 404. The validator checks no time, so no clock is frozen.
// Input (stdin): {certificates: {url: pem}, cases: [{body_b64}]}.
// Output (stdout): [{verdict: "valid" | "invalid", detail}].
import https from "node:https";
import { EventEmitter } from "node:events";
import { createRequire } from "node:module";

const require = createRequire(process.env.SNS_VALIDATOR_DIR + "/");
const MessageValidator = require("sns-validator");

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => resolve(text));
}));

const fetched = [];
https.get = (url, callback) => {
  fetched.push(String(url));
  const request = new EventEmitter();
  const response = new EventEmitter();
  const pem = input.certificates[String(url)];
  response.statusCode = pem === undefined ? 404 : 200;
  process.nextTick(() => {
    callback(response);
    if (pem !== undefined) response.emit("data", Buffer.from(pem));
    response.emit("end");
  });
  return request;
};

const validator = new MessageValidator();
const results = [];
for (const item of input.cases) {
  fetched.length = 0;
  const body = Buffer.from(item.body_b64, "base64").toString("utf8");
  const outcome = await new Promise((resolve) => {
    validator.validate(body, (error) => resolve(error ? `invalid: ${error.message}` : "valid"));
  });
  results.push({
    verdict: outcome === "valid" ? "valid" : "invalid",
    detail: outcome + (fetched.length ? ` (fetched ${fetched.join(", ")})` : ""),
  });
}
process.stdout.write(JSON.stringify(results));
