// The HTTP transport on loopback with a raw socket client: keep-alive, chunked streams, limits (413, 431,
// 400 on garbage), 100-continue, a handler that never answers, and disconnect detection while a
// response is pending.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "server/http_server.h"
#include "server/http_test_client.h"

namespace dsinfer::server {
namespace {

using namespace test_support;

// Polls `condition` for up to five seconds (server-side bookkeeping finishes just after the client has its bytes).
template <typename Condition>
bool eventually(Condition condition) {
  for (int i = 0; i < 500 && !condition(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return condition();
}

struct ServerFixture {
  explicit ServerFixture(HttpHandler handler, HttpLimits limits = {}) : server(std::move(handler), limits, 2) {
    port = server.listen("127.0.0.1", 0);
    server.start();
  }
  HttpServer server;
  int port;
};

TEST(HttpServer, AnswersSeveralRequestsOnOneKeepAliveConnection) {
  ServerFixture fixture([](const std::shared_ptr<HttpExchange>& exchange) {
    exchange->respond(200, "text/plain", exchange->request().method + " " + exchange->request().path + " " +
                                             exchange->request().query + " " + exchange->request().body);
  });
  Client client(fixture.port);
  client.send(post("/a?x=1", "hello"));
  std::string response = client.read_until("hello");
  EXPECT_NE(response.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(response.find("Content-Length: 17"), std::string::npos);
  EXPECT_NE(response.find("POST /a x=1 hello"), std::string::npos);
  client.clear();
  client.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(client.read_until("GET /b  ").find("GET /b  "), std::string::npos);
  EXPECT_TRUE(eventually([&] { return fixture.server.active_exchanges() == 0; }));
}

TEST(HttpServer, StreamsChunksFromAnotherThread) {
  ServerFixture fixture([](const std::shared_ptr<HttpExchange>& exchange) {
    exchange->start_stream(200, "text/event-stream");
    std::thread([exchange] {
      for (int i = 0; i < 3; ++i) exchange->send("data: " + std::to_string(i) + "\n\n");
      exchange->end_stream();
    }).detach();
  });
  Client client(fixture.port);
  client.send(post("/stream", "{}"));
  const std::string response = client.read_until("0\r\n\r\n");
  EXPECT_NE(response.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(response.find("9\r\ndata: 0\n\n\r\n9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n"), std::string::npos) << response;
}

TEST(HttpServer, RejectsOversizedBodiesBeforeReadingThem) {
  HttpLimits limits;
  limits.max_body_bytes = 1000;
  std::atomic<int> handled{0};
  ServerFixture fixture([&](const std::shared_ptr<HttpExchange>& exchange) {
    ++handled;
    exchange->respond(200, "text/plain", "ok");
  }, limits);
  Client client(fixture.port);
  client.send(post("/big", std::string(5000, 'x')));
  const std::string response = client.read_all();
  EXPECT_NE(response.find("HTTP/1.1 413"), std::string::npos) << response;
  EXPECT_NE(response.find("\"type\":\"invalid_request_error\""), std::string::npos);
  EXPECT_NE(response.find("5000 bytes"), std::string::npos);
  EXPECT_EQ(handled.load(), 0);
  // The server is still up.
  Client next(fixture.port);
  next.send(post("/small", "{}"));
  EXPECT_NE(next.read_until("ok").find("200 OK"), std::string::npos);
}

TEST(HttpServer, RejectsGarbageAndHugeHeaders) {
  HttpLimits limits;
  limits.max_header_bytes = 2048;
  ServerFixture fixture([](const std::shared_ptr<HttpExchange>& exchange) { exchange->respond(200, "text/plain", "ok"); },
                        limits);
  Client garbage(fixture.port);
  garbage.send("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_NE(garbage.read_all().find("HTTP/1.1 400"), std::string::npos);
  Client huge(fixture.port);
  huge.send("GET / HTTP/1.1\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
  EXPECT_NE(huge.read_all().find("HTTP/1.1 431"), std::string::npos);
}

TEST(HttpServer, AnswersExpectContinue) {
  ServerFixture fixture([](const std::shared_ptr<HttpExchange>& exchange) { exchange->respond(200, "text/plain", exchange->request().body); });
  Client client(fixture.port);
  client.send("POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_NE(client.read_until("100 Continue\r\n\r\n").find("HTTP/1.1 100 Continue"), std::string::npos);
  client.send("abcde");
  EXPECT_NE(client.read_until("abcde").find("200 OK"), std::string::npos);
}

TEST(HttpServer, AnExchangeDroppedWithoutAnswerGets500) {
  ServerFixture fixture([](const std::shared_ptr<HttpExchange>&) {});
  Client client(fixture.port);
  client.send(post("/nothing", "{}"));
  EXPECT_NE(client.read_until("}").find("HTTP/1.1 500"), std::string::npos);
}

TEST(HttpServer, NoticesAClientThatGoesAwayWhileItsResponseIsPending) {
  std::mutex mutex;
  std::condition_variable changed;
  bool disconnected = false;
  std::shared_ptr<HttpExchange> held;
  ServerFixture fixture([&](const std::shared_ptr<HttpExchange>& exchange) {
    exchange->start_stream(200, "text/event-stream");
    exchange->on_disconnect([&] {
      std::lock_guard lock(mutex);
      disconnected = true;
      changed.notify_all();
    });
    std::lock_guard lock(mutex);
    held = exchange;  // answer later (never)
  });
  {
    Client client(fixture.port);
    client.send(post("/wait", "{}"));
    client.read_until("\r\n\r\n");
    EXPECT_TRUE(eventually([&] { return fixture.server.active_exchanges() == 1; }));
    client.close();
  }
  std::unique_lock lock(mutex);
  EXPECT_TRUE(changed.wait_for(lock, std::chrono::seconds(5), [&] { return disconnected; }));
  EXPECT_TRUE(eventually([&] { return fixture.server.active_exchanges() == 0; }));
  held->send("late data is dropped quietly");
  held.reset();
}

}  // namespace
}  // namespace dsinfer::server
