// Judges Linear corpus requests with @linear/sdk's own webhook handler (LinearWebhookClient.createHandler),
// Date.now frozen at each request's `now`. Input (stdin): [{headers: [[name, value]], body_b64, secrets, now}].
// Output (stdout): [{verdict: "accept" | "reject", detail}]: accept when the handler answers 200 for any secret.
import { LinearWebhookClient } from "@linear/sdk/webhooks";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => resolve(text));
}));

const results = [];
for (const item of input) {
  Date.now = () => item.now * 1000;
  const details = [];
  let accepted = false;
  for (const [index, secret] of item.secrets.entries()) {
    const handler = new LinearWebhookClient(secret).createHandler();
    const headers = new Headers();
    for (const [name, value] of item.headers) headers.append(name, value);
    const request = new Request("https://hooks.example.test/ingest/linear", {
      method: "POST", headers, body: Buffer.from(item.body_b64, "base64"),
    });
    const response = await handler(request);
    const text = await response.text();
    // The handler's answer hides why; parseData (what it calls) says it.
    let why = "ok";
    try {
      new LinearWebhookClient(secret).parseData(Buffer.from(item.body_b64, "base64"), headers.get("linear-signature"));
    } catch (error) {
      why = error.message;
    }
    details.push(`secrets[${index}]: ${response.status} ${text} (parseData: ${why})`);
    accepted ||= response.status === 200;
  }
  results.push({ verdict: accepted ? "accept" : "reject", detail: details.join("; ") });
}
process.stdout.write(JSON.stringify(results));
