#include "proxy/transaction_key.h"

namespace sipwarden::proxy {
std::string replyTagFor(std::string_view key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::uint64_t hash = fnv1a(key);
  std::string tag = "sw";
  for (int i = 0; i < 12; ++i, hash >>= 4) tag.push_back(kDigits[hash & 0xf]);
  return tag;
}

std::string serverTransactionKey(const sip::Message& request, std::string_view method) {
  const sip::Via& via = *request.topVia();
  const std::string_view branch = via.branch();
  std::string key;
  key.reserve(96);
  if (branch.size() > 7 && branch.starts_with("z9hG4bK")) {
    key.append(branch).append("|").append(via.host).append(":").append(std::to_string(via.port));
  } else {
    key.append("2543|").append(request.requestUri()).append("|").append(request.from()->tag());
    key.append("|").append(request.callId()).append("|").append(std::to_string(request.cseq()->number));
    key.append("|").append(via.text);
  }
  key.append("|").append(method);
  return key;
}

}  // namespace sipwarden::proxy
