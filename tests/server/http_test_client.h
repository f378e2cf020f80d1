// A raw HTTP/1.1 client over a loopback socket, for the server tests: what is sent and received is exactly
// the bytes on the wire.
#pragma once

#include <boost/asio.hpp>
#include <string>

namespace dsinfer::server::test_support {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class Client {
 public:
  explicit Client(int port) : socket_(context_) { socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port))); }
  void send(const std::string& data) { net::write(socket_, net::buffer(data)); }
  // Reads until `marker` has been seen (or the peer closes); returns everything read so far.
  std::string read_until(const std::string& marker) {
    boost::system::error_code error;
    while (received_.find(marker) == std::string::npos) {
      char buffer[4096];
      const size_t count = socket_.read_some(net::buffer(buffer), error);
      if (error) break;
      received_.append(buffer, count);
    }
    return received_;
  }
  std::string read_all() { return read_until(std::string("\x01never\x02")); }
  void clear() { received_.clear(); }
  void close() { socket_.close(); }

 private:
  net::io_context context_;
  tcp::socket socket_;
  std::string received_;
};

inline std::string post(const std::string& path, const std::string& body, const std::string& extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

}  // namespace dsinfer::server::test_support
