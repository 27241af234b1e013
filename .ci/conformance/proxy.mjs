// SPDX-License-Identifier: Apache-2.0
// A loopback proxy for the conformance suite, whose client cannot send an
// Authorization header: it forwards every request to the tailops server as
// it came (method, path, headers including Host and Origin, body, streamed
// both ways) and adds "Authorization: Bearer TOKEN". It listens on an
// ephemeral loopback port and prints that port on stdout.
import http from "node:http";

const [target, token] = process.argv.slice(2);
const upstream = new URL(target);

const server = http.createServer((req, res) => {
  const headers = { ...req.headers, authorization: `Bearer ${token}` };
  const out = http.request(
    { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
    (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    },
  );
  out.on("error", (err) => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    res.end(`proxy: ${err.message}\n`);
  });
  req.pipe(out);
  res.on("close", () => out.destroy());
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
