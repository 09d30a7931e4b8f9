// Runs graphql-http's server audits (GraphQL over HTTP specification) against
// a running gateway and prints one JSON line per audit.
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
import { serverAudits } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node audit.mjs URL");
  process.exit(2);
}
const results = [];
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  const result = await audit.fn();
  results.push({
    id: result.id,
    name: result.name,
    status: result.status,
    reason: result.status === "ok" ? undefined : result.reason,
  });
}
process.stdout.write(JSON.stringify(results) + "\n");
