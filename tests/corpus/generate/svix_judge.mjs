// Signs and judges Resend and Clerk corpus requests with their own SDKs. Resend: resend's webhooks.verify (its
// bundled standardwebhooks). Clerk: @clerk/backend's verifyWebhook (standardwebhooks). Both are Svix-signed.
// Input (stdin): {sign: [{provider, secret, id, timestamp, body_b64}], judge: [{provider, secrets, headers:
// [[name, value]], body_b64, now}]}. Output (stdout): {signatures: ["v1,..."], verdicts: [{verdict: "accept" |
// "reject", detail}]}: a request is accepted when the SDK accepts it with one of the receiver's secrets (each SDK
// takes one secret; a rotation tries each). Date.now is frozen at the request's `now`.
import { createRequire } from "node:module";
import { Resend } from "resend";
import { verifyWebhook } from "@clerk/backend/webhooks";
import { Webhook as ClerkStandardWebhook } from "standardwebhooks";

// The standardwebhooks copy resend bundles (resend pins its own version), for signing Resend's cases.
const fromResend = createRequire(createRequire(import.meta.url).resolve("resend"));
const { Webhook: ResendStandardWebhook } = fromResend("standardwebhooks");

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => resolve(text));
}));

const realNow = Date.now;
const resend = new Resend("re_corpus_generation_only");  // verify is local: no API call is made

function sign({ provider, secret, id, timestamp, body_b64 }) {
  const Webhook = provider === "resend" ? ResendStandardWebhook : ClerkStandardWebhook;
  const body = Buffer.from(body_b64, "base64").toString("utf8");
  return new Webhook(secret).sign(id, new Date(timestamp * 1000), body);
}

async function judgeOne({ provider, headers, body_b64 }, secret) {
  const body = Buffer.from(body_b64, "base64");
  if (provider === "resend") {
    const get = (name) => headers.find(([key]) => key.toLowerCase() === name)?.[1];
    resend.webhooks.verify({
      payload: body.toString("utf8"),
      headers: { id: get("svix-id"), timestamp: get("svix-timestamp"), signature: get("svix-signature") },
      webhookSecret: secret,
    });
    return;
  }
  const request = new Request("https://hooks.example.test/ingest/clerk", { method: "POST", headers, body });
  await verifyWebhook(request, { signingSecret: secret });
}

const signatures = input.sign.map(sign);
const verdicts = [];
for (const item of input.judge) {
  Date.now = () => item.now * 1000;
  const details = [];
  let verdict = "reject";
  for (const [index, secret] of item.secrets.entries()) {
    try {
      await judgeOne(item, secret);
      verdict = "accept";
      details.push(`secrets[${index}]: verified`);
    } catch (error) {
      details.push(`secrets[${index}]: ${error.message}`);
    }
  }
  verdicts.push({ verdict, detail: details.join("; ") });
}
Date.now = realNow;
process.stdout.write(JSON.stringify({ signatures, verdicts }));
