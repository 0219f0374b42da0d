// What the client scripts share: `check` runs one named check, prints `ok   NAME` or `FAIL NAME:
// why`, and marks the process failed (exit code 1) when it threw.
export async function check(name, body) {
  try {
    await body();
    console.log(`ok   ${name}`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
    process.exitCode = 1;
  }
}
