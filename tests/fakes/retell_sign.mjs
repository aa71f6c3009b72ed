#!/usr/bin/env node
// Signs and verifies Retell requests with Retell's official SDK (npm `retell-sdk`, pinned in
// package.json beside this file; `./test.sh` installs it into tests/fakes/node_modules), so that
// appointd's own signature code (src/intake/retell_signature.h) is checked against the real
// thing rather than against a re-implementation.
//
//   node retell_sign.mjs --sign API_KEY [UNIX_MS] < body
//       prints the X-Retell-Signature value for the body read from stdin (its raw bytes as
//       UTF-8): the SDK's exported `sign(body, apiKey)` (timestamp: now), or, with UNIX_MS, its
//       `symmetric.sign(body, apiKey, UNIX_MS)`.
//   node retell_sign.mjs --sign-batch [API_KEY] < lines
//       signs many bodies in one run: reads JSON lines {"body": "...", "ms": UNIX_MS?, "key":
//       "..."?} from stdin and prints one X-Retell-Signature value per line, in order, as soon
//       as its line is read (so a caller may keep the process and sign request by request).
//       `key` defaults to API_KEY; without `ms` the SDK's `sign(body, key)` (timestamp: now),
//       with it `symmetric.sign(body, key, ms)`. Blank lines are skipped (no output); a bad
//       line ends the run with status 2 and its number and fault on stderr.
//   node retell_sign.mjs CASES.json          (or "-" / nothing: the cases on stdin)
//       CASES is a JSON array of {api_key, body, timestamp?, header?, now?}. Prints one JSON
//       object: {"sdk_version": "...", "results": [...]}, one result per case with
//         sign_now   `sign(body, api_key)`                           (always)
//         sign_at    `symmetric.sign(body, api_key, timestamp)`      (with timestamp)
//         verify     `verify(body, api_key, header)`, clock: now     (with header)
//         verify_at  `symmetric.verify(body, api_key, header, {timestamp: now})` (header + now)
//       A case whose SDK call throws gets {"error": "..."} instead.
// Exit status: 0, or 2 on bad usage, 3 when the SDK cannot be loaded (its message on stderr).
//
// The SDK's functions are async (5.x; they use the Web Crypto API). Node 18 (Debian 12's nodejs)
// has Web Crypto only as `crypto.webcrypto`, not as the global the SDK looks for: it is
// installed as that global here when missing.
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import { createInterface } from 'node:readline';

if (!globalThis.crypto?.subtle) {
  Object.defineProperty(globalThis, 'crypto', { value: webcrypto, configurable: true });
}

let sdk, auth;
try {
  sdk = await import('retell-sdk');
  auth = await import('retell-sdk/lib/webhook_auth');
} catch (e) {
  process.stderr.write(`retell_sign: cannot load retell-sdk: ${e.message}\n`);
  process.exit(3);
}
const { sign, verify } = sdk;
const { symmetric } = auth;
if (typeof sign !== 'function' || typeof verify !== 'function' || !symmetric) {
  process.stderr.write('retell_sign: retell-sdk exports no sign/verify/symmetric\n');
  process.exit(3);
}

function sdkVersion() {
  try {
    const p = new URL('./node_modules/retell-sdk/package.json', import.meta.url);
    return JSON.parse(readFileSync(p, 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

const args = process.argv.slice(2);

if (args[0] === '--sign') {
  const [, apiKey, unixMs] = args;
  if (!apiKey || (unixMs !== undefined && !/^\d+$/.test(unixMs))) {
    process.stderr.write('usage: retell_sign.mjs --sign API_KEY [UNIX_MS] < body\n');
    process.exit(2);
  }
  const body = readFileSync(0, 'utf8');
  const header =
    unixMs === undefined ? await sign(body, apiKey) : await symmetric.sign(body, apiKey, Number(unixMs));
  process.stdout.write(header + '\n');
  process.exit(0);
}

if (args[0] === '--sign-batch') {
  const defaultKey = args[1];
  if (args.length > 2 || defaultKey === '') {
    process.stderr.write('usage: retell_sign.mjs --sign-batch [API_KEY] < JSON lines\n');
    process.exit(2);
  }
  const fail = (n, why) => {
    process.stderr.write(`retell_sign: --sign-batch line ${n}: ${why}\n`);
    process.exit(2);
  };
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    ++n;
    if (line.trim() === '') continue;
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      fail(n, `not JSON: ${e.message}`);
    }
    if (req === null || typeof req !== 'object' || Array.isArray(req)) fail(n, 'not an object');
    if (typeof req.body !== 'string') fail(n, '"body" must be a string');
    const key = req.key ?? defaultKey;
    if (typeof key !== 'string' || key === '') fail(n, 'no key ("key", or API_KEY argument)');
    const ms = req.ms ?? undefined;
    if (ms !== undefined && !(Number.isSafeInteger(ms) && ms >= 0)) {
      fail(n, '"ms" must be a non-negative integer (Unix milliseconds)');
    }
    const header =
      ms === undefined ? await sign(req.body, key) : await symmetric.sign(req.body, key, ms);
    process.stdout.write(header + '\n');
  }
  process.exit(0);
}

let cases;
try {
  const src = args.length === 0 || args[0] === '-' ? 0 : args[0];
  cases = JSON.parse(readFileSync(src, 'utf8'));
  if (!Array.isArray(cases)) throw new Error('not a JSON array');
} catch (e) {
  process.stderr.write(`retell_sign: bad cases: ${e.message}\n`);
  process.exit(2);
}

const results = [];
for (const c of cases) {
  const r = {};
  try {
    r.sign_now = await sign(c.body, c.api_key);
    if (c.timestamp !== undefined) r.sign_at = await symmetric.sign(c.body, c.api_key, c.timestamp);
    if (c.header !== undefined) {
      r.verify = await verify(c.body, c.api_key, c.header);
      if (c.now !== undefined) {
        r.verify_at = await symmetric.verify(c.body, c.api_key, c.header, { timestamp: c.now });
      }
    }
  } catch (e) {
    r.error = String(e?.message ?? e);
  }
  results.push(r);
}
process.stdout.write(JSON.stringify({ sdk_version: sdkVersion(), results }) + '\n');
