// A small asynchronous HTTP/1.1 server on Boost.Beast + Asio: a fixed pool of I/O threads runs every
// connection (one strand each), so thousands of concurrent streams cost no thread each. It knows nothing
// about the API: each request goes to one handler with an HttpExchange, through which the handler (on
// any thread, at any later time) sends a complete response or a chunked stream (server-sent events).
//
// Limits: a request's headers and body must arrive within idle_timeout; bodies over max_body_bytes get
// 413 before they are read, oversized headers 431, malformed requests 400 (then the connection closes).
// While a handler works on a request, the connection watches the socket, so a client that goes away
// is noticed at once (the exchange's disconnect handler runs) rather than at the next write.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace dsinfer::server {

struct HttpLimits {
  size_t max_body_bytes = 8u << 20;
  size_t max_header_bytes = 16u << 10;
  std::chrono::seconds idle_timeout{60};   // to receive one whole request (and between keep-alive requests)
  std::chrono::seconds write_timeout{60};  // a client that stops reading is dropped after this
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target up to '?' (not decoded, not normalised: routes match it exactly)
  std::string query;   // after '?'
  std::string content_type;
  std::string authorization;
  std::string body;
};

class Connection;

// One request and its response. Every method is thread-safe: it queues its work on the connection's strand,
// so calls take effect in the order they were made, whichever threads made them.
class HttpExchange : public std::enable_shared_from_this<HttpExchange> {
 public:
  HttpExchange(std::shared_ptr<Connection> connection, HttpRequest request, uint64_t sequence);
  ~HttpExchange();

  const HttpRequest& request() const { return request_; }

  // A complete response (Content-Length). Later calls are ignored.
  void respond(unsigned status, std::string content_type, std::string body, HttpHeaders headers = {});
  // A chunked response: the head now, then send() pieces, then end_stream().
  void start_stream(unsigned status, std::string content_type, HttpHeaders headers = {});
  void send(std::string data);
  void end_stream();

  // Runs once, on the connection's strand, if the client disconnects before the response is complete.
  void on_disconnect(std::function<void()> handler);
  // Runs `task` on the connection's strand (serialised with this exchange's other events).
  void post(std::function<void()> task);

 private:
  friend class Connection;
  std::shared_ptr<Connection> connection_;
  HttpRequest request_;
  uint64_t sequence_;  // which request of the connection this is
};

using HttpHandler = std::function<void(const std::shared_ptr<HttpExchange>&)>;

class HttpServer {
 public:
  HttpServer(HttpHandler handler, HttpLimits limits, int num_io_threads);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port and starts listening (port 0: any free port). Returns the bound port. Throws
  // dsinfer::Error naming the address when it cannot.
  int listen(const std::string& host, int port);
  // Starts the I/O threads and returns.
  void start();
  // Closes the listening socket: no new connections (existing ones carry on).
  void stop_accepting();
  // Stops everything and joins the I/O threads. Idempotent.
  void stop();

  boost::asio::io_context& io_context() { return io_context_; }
  int64_t active_exchanges() const { return active_exchanges_.load(); }  // requests not yet fully answered

 private:
  friend class Connection;
  friend class HttpExchange;
  void accept();

  HttpHandler handler_;
  HttpLimits limits_;
  int num_io_threads_;
  boost::asio::io_context io_context_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::atomic<int64_t> active_exchanges_{0};
  std::atomic<bool> draining_{false};  // no longer accepting: responses close their connections
  std::atomic<bool> stopped_{false};
};

}  // namespace dsinfer::server
