// Preloaded into dynalite (node -r): Node's HTTP server closes an idle keep-alive connection
// after 5 s, and a client that sends on it just then sees a reset and retries, so a request
// counts twice on a busy machine. Real DynamoDB keeps connections far longer.
const http = require("http");
const createServer = http.createServer;
http.createServer = function (...args) {
  const server = createServer.apply(this, args);
  server.keepAliveTimeout = 120000;
  server.headersTimeout = 121000;
  return server;
};
