// A small system whose services keep their connections alive, for Domino's tests
// (tests/keepalive): Node.js with nothing but its standard library.
//
//     node services.js front|stock        (PORT, BIND, STOCK_URL from the environment)
//
// - stock (GET /items): answers at once with a JSON list.
// - front (GET /order): asks stock for /items with Node's built-in fetch, which
//   keeps its connections alive (one pool per process), and answers 200 with
//   what stock said, or 502 when the call failed. The planted bug: the call has
//   no deadline, so a stock that never answers holds every order with it.
//
// Every service answers GET /healthz.
"use strict";

const http = require("node:http");

const role = process.argv[2];
const port = Number(process.env.PORT);
const bind = process.env.BIND || "127.0.0.1";

function send(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(data),
  });
  res.end(data);
}

async function front(req, res) {
  if (req.url !== "/order") {
    send(res, 404, { error: "no such path" });
    return;
  }
  try {
    // No AbortSignal: no deadline (the planted hang).
    const answer = await fetch(`${process.env.STOCK_URL}/items`);
    const items = await answer.json();
    send(res, answer.ok ? 200 : 502, { order: "placed", items });
  } catch (err) {
    send(res, 502, { error: `stock failed: ${err.message}` });
  }
}

function stock(req, res) {
  if (req.url !== "/items") {
    send(res, 404, { error: "no such path" });
    return;
  }
  send(res, 200, [{ sku: "A-1", left: 3 }]);
}

const handlers = { front, stock };
const handle = handlers[role];
if (!handle) {
  console.error(`usage: node services.js front|stock (got ${role})`);
  process.exit(2);
}

const server = http.createServer((req, res) => {
  req.resume(); // read and drop any body
  if (req.url === "/healthz") {
    send(res, 200, { ok: true });
    return;
  }
  Promise.resolve(handle(req, res)).catch((err) => send(res, 500, { error: String(err) }));
});
server.keepAliveTimeout = 30_000;
server.listen(port, bind);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
