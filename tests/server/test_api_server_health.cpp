// The API server over an engine whose device breaks: each failed forward answers its request with a 500 and the
// server keeps serving, until forwards have failed several times in a row; then /health says 503 and
// run_until_signal returns 1 without waiting for a signal (so that a supervisor restarts the server).
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "core/error.h"
#include "model/config.h"
#include "server/api_server.h"
#include "server/http_test_client.h"

namespace dsinfer::server {
namespace {

using namespace test_support;

constexpr const char* kModel = DSINFER_TESTDATA_DIR "/fixtures/dsv3-tiny-fullvocab";

class BrokenDevice : public ModelBackend {
 public:
  explicit BrokenDevice(int64_t vocab) : vocab_(vocab) {}
  int64_t vocab_size() const override { return vocab_; }
  int page_size() const override { return 64; }
  int num_kv_pages() const override { return 64; }
  int max_batch_tokens() const override { return 1024; }
  Tensor forward(const ForwardBatch&, const DeviceSampling*, bool) override { throw Error("simulated device fault"); }

 private:
  int64_t vocab_;
};

// A server on an ephemeral port over the broken device.
class ApiServerHealth : public ::testing::Test {
 protected:
  ApiServerHealth()
      : config_(load_model_config(std::string(kModel) + "/config.json")),
        server_(options(), config_, std::make_unique<BrokenDevice>(config_.vocab_size)),
        port_(server_.start()) {}

  static ServerOptions options() {
    ServerOptions options;
    options.model_path = kModel;
    options.port = 0;
    return options;
  }

  const ModelConfig config_;
  ApiServer server_;
  const int port_;
};

std::string status_line(Client& client) {
  const std::string response = client.read_until("\r\n");
  return response.substr(0, response.find("\r\n"));
}

TEST_F(ApiServerHealth, ForwardsFailingInARowMakeTheServerUnhealthyAndEndIt) {
  auto exit_code = std::async(std::launch::async, [&] { return server_.run_until_signal(); });

  const std::string body = R"({"input_ids": [0, 5, 6], "sampling_params": {"max_new_tokens": 2}})";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(exit_code.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout) << "after " << i << " failures";
    Client client(port_);
    client.send(post("/generate", body));
    const std::string response = client.read_until("}}");
    EXPECT_NE(response.find("HTTP/1.1 500"), std::string::npos) << response;
    EXPECT_NE(response.find("simulated device fault"), std::string::npos) << response;
  }
  ASSERT_EQ(exit_code.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(exit_code.get(), 1);
}

TEST_F(ApiServerHealth, HealthTurns503WhenTheEngineFails) {
  {
    Client client(port_);
    client.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(status_line(client), "HTTP/1.1 200 OK");
  }
  for (int i = 0; i < 3; ++i) {
    Client client(port_);
    client.send(post("/generate", R"({"input_ids": [0, 5], "sampling_params": {"max_new_tokens": 1}})"));
    client.read_until("}}");
  }
  // The third 500 may reach the client just before the engine thread marks itself unhealthy.
  std::string health;
  for (int attempt = 0; attempt < 100 && health != "HTTP/1.1 503 Service Unavailable"; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Client client(port_);
    client.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    health = status_line(client);
  }
  EXPECT_EQ(health, "HTTP/1.1 503 Service Unavailable");
}

}  // namespace
}  // namespace dsinfer::server
