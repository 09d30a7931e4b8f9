// Drives GraphiQL in Debian's chromium (headless, no network but loopback):
// opens the gateway's page, types a token into the Authorization header,
// runs the default query and prints what the response pane shows.
// With PREFILLED=1 nothing is typed: the page must open with TOKEN already in
// its Headers tab (development), and the query runs as it is.
// Then, given a conversation id, runs a subscription in GraphiQL (over the
// WebSocket, token in connection_init), renames the conversation over HTTP and
// prints the event GraphiQL shows.
// Usage: node graphiql.mjs BASE_URL TOKEN EXPECTED_TEXT SCREENSHOT_PATH [CONVERSATION_ID]
import { chromium } from "playwright-core";

const [base, token, expected, screenshot, conversationId] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const prefilled = process.env.PREFILLED === "1";
const origin = new URL(base).origin;

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    // Everything but loopback goes to a closed port: no network.
    "--proxy-server=http://127.0.0.1:9",
  ],
});
const outcome = {
  external: [], pageErrors: [], console: [], response: null, headers: null,
  subscription: null, lastPane: null,
};
const responsePane = () =>
  document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue();
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
  // Record (and refuse) anything that is not the gateway itself.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin + "/")) return route.continue();
    outcome.external.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("pageerror", (error) => outcome.pageErrors.push(String(error)));
  page.on("console", (msg) => {
    if (msg.type() === "error") outcome.console.push(msg.text());
  });
  await page.goto(`${base}/graphql`, { waitUntil: "networkidle" });
  await page.waitForSelector(".graphiql-execute-button", { timeout: 30000 });

  // The Headers tab is open with the `Authorization: Bearer ` template:
  // put the cursor after "Bearer " and type the token.
  await page.waitForFunction(() =>
    [...document.querySelectorAll(".graphiql-editor-tool .CodeMirror")]
      .some((el) => el.CodeMirror.getValue().includes("Authorization")));
  if (!prefilled) {
    await page.evaluate(() => {
      const cm = [...document.querySelectorAll(".graphiql-editor-tool .CodeMirror")]
        .map((el) => el.CodeMirror)
        .find((editor) => editor.getValue().includes("Authorization"));
      const text = cm.getValue();
      const at = text.indexOf("Bearer ") + "Bearer ".length;
      cm.focus();
      cm.setCursor(cm.posFromIndex(at));
    });
    await page.keyboard.type(token);
  }
  outcome.headers = await page.evaluate(() => {
    const cm = [...document.querySelectorAll(".graphiql-editor-tool .CodeMirror")]
      .map((el) => el.CodeMirror)
      .find((editor) => editor.getValue().includes("Authorization"));
    cm.scrollTo(0, null); // show the header name in the screenshot
    return cm.getValue();
  });

  await page.click(".graphiql-execute-button");
  await page.waitForFunction(
    (text) => {
      const pane = document.querySelector(".graphiql-response .CodeMirror");
      return pane && pane.CodeMirror.getValue().includes(text);
    },
    expected,
    { timeout: 30000 },
  );
  outcome.response = await page.evaluate(responsePane);
  if (screenshot) await page.screenshot({ path: screenshot });

  if (conversationId) {
    await page.evaluate(() => {
      document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(
        "subscription Live { conversationEvents { kind conversation { title } } }");
    });
    // Let GraphiQL re-parse the edited document (it does so after typing stops).
    await page.waitForTimeout(1000);
    await page.click(".graphiql-execute-button");
    // The WebSocket connects asynchronously: rename until GraphiQL shows the event.
    for (let attempt = 0; attempt < 50 && outcome.subscription === null; attempt++) {
      const title = `Live from GraphiQL ${attempt}`;
      const res = await fetch(`${base}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({
          query: "mutation($id: String!, $t: String!) { updateConversationTitle(" +
            "conversationId: $id, title: $t) { title } }",
          variables: { id: conversationId, t: title },
        }),
      });
      if (!res.ok) throw new Error(`rename failed: ${res.status}`);
      try {
        await page.waitForFunction((t) => {
          const pane = document.querySelector(".graphiql-response .CodeMirror");
          return pane && pane.CodeMirror.getValue().includes(t);
        }, title, { timeout: 500 });
        outcome.subscription = await page.evaluate(responsePane);
      } catch {
        // not connected yet: try again
      }
    }
    outcome.lastPane = await page.evaluate(responsePane);
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(outcome) + "\n");
