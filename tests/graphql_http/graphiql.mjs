// Drives GraphiQL in Debian's chromium (headless, no network but loopback):
// opens the gateway's page, types a token into the Authorization header,
// runs the default query and prints what the response pane shows.
// Usage: node graphiql.mjs BASE_URL TOKEN EXPECTED_TEXT SCREENSHOT_PATH
import { chromium } from "playwright-core";

const [base, token, expected, screenshot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
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
const outcome = { external: [], pageErrors: [], response: null, headers: null };
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
  await page.goto(`${base}/graphql`, { waitUntil: "networkidle" });
  await page.waitForSelector(".graphiql-execute-button", { timeout: 30000 });

  // The Headers tab is open with the `Authorization: Bearer ` template:
  // put the cursor after "Bearer " and type the token.
  await page.waitForFunction(() =>
    [...document.querySelectorAll(".graphiql-editor-tool .CodeMirror")]
      .some((el) => el.CodeMirror.getValue().includes("Authorization")));
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
  outcome.response = await page.evaluate(
    () => document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue());
  if (screenshot) await page.screenshot({ path: screenshot });
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(outcome) + "\n");
