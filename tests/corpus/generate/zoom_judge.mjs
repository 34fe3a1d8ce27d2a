// Judges Zoom corpus requests with Zoom's own @zoom/rivet (its AwsLambdaReceiver: the receiver verifies
// x-zm-signature and answers endpoint.url_validation). Input (stdin): [{headers: [[name, value]], body_b64,
// secrets}]. Output (stdout): [{verdict: "accept" | "reject" | "handshake", answer, detail}]: the verdict of the
// first secret whose answer is 200 (Rivet takes one secret token), else "reject".
import { AwsLambdaReceiver } from "@zoom/rivet/meetings";

console.debug = () => {};  // Rivet logs every event it processes
const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => resolve(text));
}));

const results = [];
for (const item of input) {
  const headers = {};
  for (const [name, value] of item.headers) {
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  const details = [];
  let result = { verdict: "reject", answer: null };
  for (const [index, secret] of item.secrets.entries()) {
    const receiver = new AwsLambdaReceiver({ webhooksSecretToken: secret });
    receiver.init({ eventEmitter: { emit: async () => {} } });
    const answer = await receiver.start()({
      body: Buffer.from(item.body_b64, "base64").toString("utf8"), headers, isBase64Encoded: false,
    }, {});
    details.push(`secrets[${index}]: ${answer.statusCode} ${answer.body}`);
    if (answer.statusCode === 200 && result.verdict === "reject") {
      const body = JSON.parse(answer.body);
      result = "encryptedToken" in body ? { verdict: "handshake", answer: body } : { verdict: "accept", answer: null };
    }
  }
  results.push({ ...result, detail: details.join("; ") });
}
process.stdout.write(JSON.stringify(results));
