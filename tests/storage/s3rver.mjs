// s3rver.mjs - a local S3-compatible server for tests/storage.
//
//   node s3rver.mjs DIR [PORT]      (PORT also from UMS_S3_PORT; default 4569)
//
// Listens on 127.0.0.1 only, keeps objects in DIR, creates the bucket
// "ums-test" and prints "ready" once it accepts connections.
//
// s3rver 3.7 checks only the access key of a SigV4 request ("Signature version
// 4 calculation is unimplemented"), so a wrong secret key would pass. The
// middleware below does what S3 does: it recomputes the signature with the
// S3RVER/S3RVER key pair for region us-east-1 and rejects a mismatch with
// 403 SignatureDoesNotMatch, and it checks that an uploaded body hashes to the
// x-amz-content-sha256 the client signed (400 XAmzContentSHA256Mismatch).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import S3rver from 's3rver';

const require = createRequire(import.meta.url);
const S3Error = require('s3rver/lib/models/error.js');

const ACCESS_KEY = 'S3RVER';
const SECRET_KEY = 'S3RVER';
const REGION = 'us-east-1';
const BUCKET = 'ums-test';
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

const dir = process.argv[2];
const port = Number(process.argv[3] || process.env.UMS_S3_PORT || 4569);
if (!dir || !Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node s3rver.mjs DIR [PORT]');
  process.exit(2);
}

const sha256 = s => createHash('sha256').update(s).digest('hex');
const hmac = (key, s) => createHmac('sha256', key).update(s).digest();
const rfc3986 = s =>
  encodeURIComponent(s).replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function fail(code, message, status) {
  const err = new S3Error(code, message);
  if (status) err.status = status;
  return err;
}

// The canonical request of SigV4 for S3: the path is encoded once, segment by
// segment; query pairs are encoded and sorted; header values are trimmed with
// inner runs of spaces collapsed.
function canonicalRequest(req, signedHeaders, payloadHash) {
  const [rawPath, rawQuery = ''] = req.url.split('?', 2);
  const path = rawPath
    .split('/')
    .map(seg => rfc3986(decodeURIComponent(seg)))
    .join('/');
  const query = rawQuery
    .split('&')
    .filter(Boolean)
    .map(pair => {
      const [k, v = ''] = pair.split('=', 2).map(x => decodeURIComponent(x));
      return [rfc3986(k), rfc3986(v)];
    })
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headers = signedHeaders
    .map(name => `${name}:${String(req.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  return [req.method, path, query, headers, signedHeaders.join(';'), payloadHash].join('\n');
}

// Verifies an "Authorization: AWS4-HMAC-SHA256 ..." header; throws an S3Error.
function verifySigV4(req) {
  const auth = req.headers.authorization;
  const m = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(
    auth,
  );
  if (!m) throw fail('AuthorizationHeaderMalformed', 'The authorization header is malformed.');
  const [, accessKey, day, region, service, signedList, signature] = m;
  if (accessKey !== ACCESS_KEY) {
    throw fail('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist.');
  }
  if (region !== REGION || service !== 's3') {
    throw fail('AuthorizationHeaderMalformed', `The region must be ${REGION}, the service s3.`);
  }
  const amzDate = req.headers['x-amz-date'] || '';
  const t = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!t || amzDate.slice(0, 8) !== day) {
    throw fail('AccessDenied', 'x-amz-date is missing or does not match the credential scope.');
  }
  const when = Date.UTC(t[1], t[2] - 1, t[3], t[4], t[5], t[6]);
  if (Math.abs(Date.now() - when) > 15 * 60 * 1000) {
    throw fail('RequestTimeTooSkewed', 'The request time is too far from the server time.');
  }
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (!payloadHash) {
    throw fail('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  const signed = signedList.split(';');
  const sorted = [...signed].sort();
  if (signed.join(';') !== sorted.join(';') || !signed.includes('host')) {
    throw fail('AuthorizationHeaderMalformed', 'SignedHeaders must be sorted and include host.');
  }
  // A signed header the request does not carry (curl 7.88 signs an empty
  // "Expect:" that it then leaves out) is refused rather than taken as "".
  for (const name of signed) {
    if (!(name in req.headers)) throw fail('AccessDenied', `The signed header ${name} is missing.`);
  }
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith('x-amz-') && !signed.includes(name)) {
      throw fail('AccessDenied', `The header ${name} must be signed.`);
    }
  }
  const creq = canonicalRequest(req, signed, payloadHash);
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
  let key = hmac('AWS4' + SECRET_KEY, day);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const expected = Buffer.from(hmac(key, toSign).toString('hex'));
  if (!timingSafeEqual(expected, Buffer.from(signature))) {
    console.error(`s3rver.mjs: signature mismatch for ${req.method} ${req.url}`);
    throw fail('SignatureDoesNotMatch', 'The request signature we calculated does not match.');
  }
  return payloadHash;
}

// Koa middleware run before all of s3rver's own.
async function sigv4(ctx, next) {
  const auth = ctx.req.headers.authorization || '';
  if (!auth.startsWith('AWS4-HMAC-SHA256')) return next();
  const payloadHash = verifySigV4(ctx.req);
  const length = Number(ctx.req.headers['content-length'] || 0);
  const isUpload =
    ctx.method === 'PUT' &&
    length > 0 &&
    /^\/[^/]+\/.+/.test(ctx.path) &&
    !ctx.querystring &&
    !ctx.req.headers['x-amz-copy-source'];
  if (/^[0-9a-f]{64}$/.test(payloadHash) && !isUpload && length === 0) {
    if (payloadHash !== EMPTY_SHA256) {
      throw fail('XAmzContentSHA256Mismatch', 'The body is empty.', 400);
    }
    return next();
  }
  if (!isUpload || !/^[0-9a-f]{64}$/.test(payloadHash)) return next();
  // Hash the body while s3rver stores it: a second 'data' listener, paused
  // until s3rver pipes the request (pipe() resumes it).
  const hasher = createHash('sha256');
  let ended = false;
  ctx.req.on('data', chunk => hasher.update(chunk));
  ctx.req.on('end', () => (ended = true));
  ctx.req.pause();
  await next();
  if (ended && hasher.digest('hex') !== payloadHash) {
    const [, bucket, key] = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    await ctx.store.deleteObject(bucket, decodeURIComponent(key)).catch(() => {});
    console.error(`s3rver.mjs: payload hash mismatch for ${ctx.method} ${ctx.url}`);
    throw fail('XAmzContentSHA256Mismatch', 'The body does not match x-amz-content-sha256.', 400);
  }
}

const server = new S3rver({
  address: '127.0.0.1',
  port,
  directory: dir,
  silent: !process.env.S3RVER_VERBOSE,
  vhostBuckets: false,
  configureBuckets: [{ name: BUCKET, configs: [] }],
});
server.middleware.unshift(sigv4);

const stop = () => {
  server.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.run().then(
  () => console.log('ready'),
  err => {
    console.error(`s3rver.mjs: ${err.message}`);
    process.exit(1);
  },
);
