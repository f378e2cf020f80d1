#include "server/http_server.h"

#include <cstdio>
#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/error.h"
#include "server/api_error.h"

namespace dsinfer::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kMaxPipelinedBytes = 64u << 10;  // bytes buffered from a client while its request runs

std::string response_head(unsigned status, const std::string& content_type, const HttpHeaders& headers,
                          const std::string& length_or_chunked, bool keep_alive) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " ";
  head += std::string(http::obsolete_reason(static_cast<http::status>(status)));
  head += "\r\nServer: dsinfer\r\n";
  if (!content_type.empty()) head += "Content-Type: " + content_type + "\r\n";
  head += length_or_chunked;
  head += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
  head += "\r\n";
  return head;
}

std::string chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return size + data + "\r\n";
}

}  // namespace

// One TCP connection: reads requests one after another (keep-alive), hands each to the handler, writes
// its response. Everything runs on the connection's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer& server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {}

  void start() { read_request(); }
  auto executor() { return stream_.get_executor(); }

  void respond(uint64_t sequence, unsigned status, const std::string& content_type, const std::string& body,
               const HttpHeaders& headers) {
    if (!owns(sequence) || head_sent_) return;
    head_sent_ = true;
    response_complete_ = true;
    update_keep_alive();
    queue(response_head(status, content_type, headers, "Content-Length: " + std::to_string(body.size()) + "\r\n",
                        keep_alive_) +
          body);
  }

  void start_stream(uint64_t sequence, unsigned status, const std::string& content_type, const HttpHeaders& headers) {
    if (!owns(sequence) || head_sent_) return;
    head_sent_ = true;
    streaming_ = true;
    update_keep_alive();
    queue(response_head(status, content_type, headers, "Transfer-Encoding: chunked\r\n", keep_alive_));
  }

  void send(uint64_t sequence, const std::string& data) {
    if (!owns(sequence) || !streaming_ || response_complete_ || data.empty()) return;
    queue(chunk(data));
  }

  void end_stream(uint64_t sequence) {
    if (!owns(sequence) || !streaming_ || response_complete_) return;
    response_complete_ = true;
    queue("0\r\n\r\n");
  }

  void set_disconnect_handler(uint64_t sequence, std::function<void()> handler) {
    if (sequence != sequence_) return;
    if (peer_gone_) {
      handler();
    } else if (exchange_active_) {
      disconnect_handler_ = std::move(handler);
    }
  }

  // The exchange object is gone: make sure its request got an answer.
  void abandon(uint64_t sequence) {
    if (!owns(sequence)) return;
    if (!head_sent_) {
      respond(sequence, 500, "application/json", error_body(500, "internal error: the request got no response"), {});
    } else if (streaming_ && !response_complete_) {
      end_stream(sequence);
    }
  }

 private:
  bool owns(uint64_t sequence) const { return sequence == sequence_ && exchange_active_ && !closed_; }
  void update_keep_alive() {
    if (server_.draining_.load()) keep_alive_ = false;  // shutting down: no further requests here
  }

  void read_request() {
    if (closed_) return;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.limits_.max_header_bytes));
    parser_->body_limit(server_.limits_.max_body_bytes);
    stream_.expires_after(server_.limits_.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code error, size_t) { self->on_header(error); });
  }

  void on_header(beast::error_code error) {
    if (error) return on_read_error(error);  // also a Content-Length over the limit (body_limit)
    const auto& request = parser_->get();
    if (beast::iequals(request[http::field::expect], "100-continue")) queue("HTTP/1.1 100 Continue\r\n\r\n");
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, size_t) { self->on_body(error); });
  }

  void on_body(beast::error_code error) {
    if (error) return on_read_error(error);
    dispatch_request();
  }

  void on_read_error(beast::error_code error) {
    if (error == http::error::header_limit) {
      return reject(431, "the request headers exceed " + std::to_string(server_.limits_.max_header_bytes) + " bytes");
    }
    if (error == http::error::body_limit) {
      const std::string size =
          parser_->content_length() ? "is " + std::to_string(*parser_->content_length()) + " bytes" : "is larger than that";
      return reject(413, "the request body " + size + "; the limit is " + std::to_string(server_.limits_.max_body_bytes) +
                             " bytes (--max-request-bytes)");
    }
    if (error.category() == beast::error_code(http::error::end_of_stream).category() &&
        error != http::error::end_of_stream &&
        error != http::error::partial_message) {
      return reject(400, "malformed HTTP request: " + error.message());
    }
    close();  // the client closed, reset or timed out
  }

  // An error before any handler saw the request: answer and close (the rest of the body is unread).
  void reject(unsigned status, const std::string& message) {
    exchange_active_ = true;
    counted_ = false;
    head_sent_ = true;
    response_complete_ = true;
    keep_alive_ = false;
    linger_ = true;
    const std::string body = error_body(status, message);
    queue(response_head(status, "application/json", {}, "Content-Length: " + std::to_string(body.size()) + "\r\n",
                        false) +
          body);
  }

  void dispatch_request() {
    stream_.expires_never();
    http::request<http::string_body> message = parser_->release();
    keep_alive_ = message.keep_alive();
    HttpRequest request;
    request.method = std::string(message.method_string());
    const std::string target(message.target());
    const size_t question = target.find('?');
    request.path = target.substr(0, question);
    if (question != std::string::npos) request.query = target.substr(question + 1);
    request.content_type = std::string(message[http::field::content_type]);
    request.authorization = std::string(message[http::field::authorization]);
    request.body = std::move(message.body());

    ++sequence_;
    exchange_active_ = true;
    counted_ = true;
    head_sent_ = streaming_ = response_complete_ = false;
    server_.active_exchanges_.fetch_add(1);
    auto exchange = std::make_shared<HttpExchange>(shared_from_this(), std::move(request), sequence_);
    try {
      server_.handler_(exchange);
    } catch (const std::exception& error) {
      respond(sequence_, 500, "application/json", error_body(500, std::string("internal error: ") + error.what()), {});
    }
    if (exchange_active_ && !response_complete_) watch();  // the handler answers later
  }

  void queue(std::string data) {
    if (closed_) return;
    outgoing_ += data;
    if (!writing_) write_next();
  }

  void write_next() {
    in_flight_.swap(outgoing_);
    outgoing_.clear();
    writing_ = true;
    stream_.expires_after(server_.limits_.write_timeout);
    net::async_write(stream_, net::buffer(in_flight_),
                     [self = shared_from_this()](beast::error_code error, size_t) { self->on_write(error); });
  }

  void on_write(beast::error_code error) {
    writing_ = false;
    if (error) return peer_went_away();
    if (!outgoing_.empty()) return write_next();
    if (exchange_active_ && response_complete_) response_done();
  }

  void response_done() {
    finish_exchange();
    if (!keep_alive_) return linger_ ? linger() : close();
    if (watching_) {
      // The watch read must finish before the next request is read; it completes at once when cancelled.
      next_request_after_watch_ = true;
      beast::error_code ignored;
      stream_.socket().cancel(ignored);
      return;
    }
    read_request();
  }

  void finish_exchange() {
    if (!exchange_active_) return;
    exchange_active_ = false;
    disconnect_handler_ = nullptr;
    if (counted_) server_.active_exchanges_.fetch_sub(1);
    counted_ = false;
  }

  // While a handler works, keep a read pending so that a closed or reset connection is noticed at once.
  void watch() {
    if (watching_ || closed_) return;
    watching_ = true;
    stream_.expires_never();
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code error, size_t bytes) {
      self->on_watch(error, bytes);
    });
  }

  void on_watch(beast::error_code error, size_t bytes) {
    watching_ = false;
    if (!error) {
      buffer_.commit(bytes);  // a pipelined request: kept for later
      if (exchange_active_ && buffer_.size() < kMaxPipelinedBytes) return watch();
    } else if (error != net::error::operation_aborted) {
      return peer_went_away();
    }
    if (next_request_after_watch_) {
      next_request_after_watch_ = false;
      read_request();
    }
  }

  // After rejecting a request whose body is still arriving: stop sending, but read and discard for a
  // moment before closing, so that the client sees the error response rather than a connection reset.
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    discard();
  }
  void discard() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(64u << 10), [self = shared_from_this()](beast::error_code error, size_t) {
      if (error) return self->close();
      self->discard();
    });
  }

  void peer_went_away() {
    if (peer_gone_) return;
    peer_gone_ = true;
    std::function<void()> handler = std::move(disconnect_handler_);
    finish_exchange();
    close();
    if (handler) handler();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  HttpServer& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  uint64_t sequence_ = 0;         // the current exchange
  bool exchange_active_ = false;  // a request is being answered
  bool counted_ = false;          // counted in server_.active_exchanges_
  bool head_sent_ = false;
  bool streaming_ = false;
  bool response_complete_ = false;
  bool keep_alive_ = true;
  bool writing_ = false;
  bool watching_ = false;
  bool next_request_after_watch_ = false;
  bool peer_gone_ = false;
  bool linger_ = false;  // close with linger() after the response
  bool closed_ = false;
  std::string outgoing_;   // queued bytes
  std::string in_flight_;  // bytes of the write in progress
  std::function<void()> disconnect_handler_;
};

HttpExchange::HttpExchange(std::shared_ptr<Connection> connection, HttpRequest request, uint64_t sequence)
    : connection_(std::move(connection)), request_(std::move(request)), sequence_(sequence) {}

HttpExchange::~HttpExchange() {
  net::post(connection_->executor(), [connection = connection_, sequence = sequence_] { connection->abandon(sequence); });
}

void HttpExchange::respond(unsigned status, std::string content_type, std::string body, HttpHeaders headers) {
  net::post(connection_->executor(), [connection = connection_, sequence = sequence_, status,
                                          content_type = std::move(content_type), body = std::move(body),
                                          headers = std::move(headers)] {
    connection->respond(sequence, status, content_type, body, headers);
  });
}

void HttpExchange::start_stream(unsigned status, std::string content_type, HttpHeaders headers) {
  net::post(connection_->executor(), [connection = connection_, sequence = sequence_, status,
                                          content_type = std::move(content_type), headers = std::move(headers)] {
    connection->start_stream(sequence, status, content_type, headers);
  });
}

void HttpExchange::send(std::string data) {
  net::post(connection_->executor(), [connection = connection_, sequence = sequence_, data = std::move(data)] {
    connection->send(sequence, data);
  });
}

void HttpExchange::end_stream() {
  net::post(connection_->executor(),
                [connection = connection_, sequence = sequence_] { connection->end_stream(sequence); });
}

void HttpExchange::on_disconnect(std::function<void()> handler) {
  net::post(connection_->executor(), [connection = connection_, sequence = sequence_, handler = std::move(handler)] {
    connection->set_disconnect_handler(sequence, handler);
  });
}

void HttpExchange::post(std::function<void()> task) { net::post(connection_->executor(), std::move(task)); }

HttpServer::HttpServer(HttpHandler handler, HttpLimits limits, int num_io_threads)
    : handler_(std::move(handler)), limits_(limits), num_io_threads_(std::max(1, num_io_threads)), acceptor_(io_context_) {}

HttpServer::~HttpServer() { stop(); }

int HttpServer::listen(const std::string& host, int port) {
  DSINFER_CHECK(port >= 0 && port <= 65535, "--port must be in [0, 65535], got ", port);
  beast::error_code error;
  tcp::resolver resolver(io_context_);
  auto endpoints = resolver.resolve(host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, error);
  DSINFER_CHECK(!error && !endpoints.empty(), "cannot resolve --host ", host, ": ", error.message());
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(net::socket_base::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(net::socket_base::max_listen_connections, error);
  DSINFER_CHECK(!error, "cannot listen on ", host, ":", port, ": ", error.message());
  accept();
  return acceptor_.local_endpoint().port();
}

void HttpServer::accept() {
  acceptor_.async_accept(net::make_strand(io_context_), [this](beast::error_code error, tcp::socket socket) {
    if (error == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!error) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // small SSE chunks go out at once
      std::make_shared<Connection>(*this, std::move(socket))->start();
      return accept();
    }
    // Out of file descriptors or similar: back off briefly instead of spinning.
    auto timer = std::make_shared<net::steady_timer>(io_context_, std::chrono::milliseconds(50));
    timer->async_wait([this, timer](beast::error_code) {
      if (acceptor_.is_open()) accept();
    });
  });
}

void HttpServer::start() {
  for (int i = 0; i < num_io_threads_; ++i) {
    threads_.emplace_back([this] {
      auto guard = net::make_work_guard(io_context_);
      io_context_.run();
    });
  }
}

void HttpServer::stop_accepting() {
  draining_.store(true);
  net::dispatch(io_context_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
}

void HttpServer::stop() {
  if (stopped_.exchange(true)) return;
  stop_accepting();
  io_context_.stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace dsinfer::server
