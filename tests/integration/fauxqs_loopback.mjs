// Starts the fauxqs SQS emulator (npm package, installed in tests/node_modules) bound to
// 127.0.0.1 only; its own CLI listens on every interface. Used by test_sqs_fauxqs.py.
//   node fauxqs_loopback.mjs PORT      prints "listening <port>" once ready
const base = new URL("../node_modules/fauxqs/dist/", import.meta.url);
const { buildApp } = await import(new URL("app.js", base));
const { SqsStore } = await import(new URL("sqs/sqsStore.js", base));
const { SnsStore } = await import(new URL("sns/snsStore.js", base));
const { S3Store } = await import(new URL("s3/s3Store.js", base));

const port = parseInt(process.argv[2] ?? "0", 10);
const app = buildApp({
  logger: false,
  stores: { sqsStore: new SqsStore(), snsStore: new SnsStore(), s3Store: new S3Store() },
});
const addr = await app.listen({ port, host: "127.0.0.1" });
console.log("listening " + new URL(addr).port);
