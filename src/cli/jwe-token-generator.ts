#!/usr/bin/env node
import { JWE_GENERATOR_HELP, parseGeneratorArgs, UsageError } from './jwe-token-generator.args.js';
import { mintJweToken } from './jwe-token.js';

/** `jwe-token-generator`: the image's token CLI (auth spec §1.7, with upstream §B/§G's safer defaults). */
async function main(): Promise<number> {
  let command;
  try {
    command = parseGeneratorArgs(process.argv.slice(2), process.env, Date.now() / 1000);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`error: ${err.message}\nRun "jwe-token-generator --help" for the flags.\n`);
    return 2;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${JWE_GENERATOR_HELP}\n`);
    return 0;
  }
  const token = await mintJweToken(command.claims, command.secrets);
  // The same lines as altinity-mcp's generator, so scripts that scrape them keep working.
  process.stdout.write(`\nExample usage with SSE transport:\ncurl "http://localhost:8080/${token}/sse"\nJWE Token:\n${token}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Never a stack trace (and never the secrets): one line for a person.
    process.stderr.write(`error: could not mint the token: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
