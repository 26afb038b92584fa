#include "common/kube/informer.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <random>

namespace vmesh::kube {
namespace {

namespace json = boost::json;

std::string Str(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (const char* key : path) {
    if (!cur->is_object()) return "";
    cur = cur->get_object().if_contains(key);
    if (cur == nullptr) return "";
  }
  return cur->is_string() ? std::string(cur->get_string()) : "";
}

bool Retryable(int status) { return status == 429 || status >= 500; }

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string ObjectKeyOf(const json::value& object) {
  const std::string ns = Str(object, {"metadata", "namespace"});
  const std::string name = Str(object, {"metadata", "name"});
  return ns.empty() ? name : ns + "/" + name;
}

Informer::Informer(Client& client, InformerOptions options, InformerHandlers handlers)
    : client_(client), options_(std::move(options)), handlers_(std::move(handlers)) {}

std::string Informer::Query(bool watch) const {
  std::string q = options_.collection + "?";
  if (!options_.label_selector.empty()) q += "labelSelector=" + UrlEncode(options_.label_selector) + "&";
  if (watch) {
    q += "watch=1&allowWatchBookmarks=true&resourceVersion=" + resource_version_ +
         "&timeoutSeconds=" + std::to_string(options_.watch_timeout_seconds);
  }
  if (q.back() == '&' || q.back() == '?') q.pop_back();
  return q;
}

boost::asio::awaitable<void> Informer::Sleep(int attempt) {
  ++stats_.retries;
  auto ceiling = options_.initial_backoff;
  for (int i = 0; i < attempt && ceiling < options_.max_backoff; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, options_.max_backoff);
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<long long> jitter(0, ceiling.count());
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  timer.expires_after(std::chrono::milliseconds(jitter(rng)));  // full jitter
  co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

boost::asio::awaitable<void> Informer::Run(std::function<bool()> keep_going) {
  int attempt = 0;
  while (keep_going()) {
    // List.
    // (A named local: g++ 12 mishandles temporaries of a conditional expression inside co_await.)
    std::string query;
    if (!options_.label_selector.empty()) query = "labelSelector=" + UrlEncode(options_.label_selector);
    auto list = co_await client_.List(options_.collection, query);
    if (!list.ok() || Retryable(list->status)) {
      co_await Sleep(attempt++);
      continue;
    }
    if (!list->ok() || !list->body.is_object()) {
      co_await Sleep(attempt++);  // e.g. 403 while RBAC is being set up: keep trying, slowly
      continue;
    }
    ++stats_.lists;
    cache_.clear();
    if (const auto* items = list->body.get_object().if_contains("items"); items && items->is_array()) {
      for (const auto& item : items->get_array()) cache_[ObjectKeyOf(item)] = item;
    }
    resource_version_ = Str(list->body, {"metadata", "resourceVersion"});
    if (handlers_.on_list) handlers_.on_list(cache_);
    attempt = 0;

    // Watch until the version is gone.
    bool gone = false;
    while (!gone && keep_going()) {
      ++stats_.watches;
      bool stop = false;
      Status s = co_await client_.Watch(Query(true), [&](const WatchEvent& e) {
        if (e.type == "ERROR") {
          const json::value* code = e.object.is_object() ? e.object.get_object().if_contains("code") : nullptr;
          if (code && code->is_number() && code->to_number<int>() == 410) gone = true;
          return false;
        }
        const std::string rv = Str(e.object, {"metadata", "resourceVersion"});
        if (!rv.empty()) resource_version_ = rv;
        if (e.type == "BOOKMARK") return true;
        if (e.type == "DELETED") {
          cache_.erase(ObjectKeyOf(e.object));
        } else {
          cache_[ObjectKeyOf(e.object)] = e.object;
        }
        if (handlers_.on_event) handlers_.on_event(e);
        if (!keep_going()) {
          stop = true;
          return false;
        }
        return true;
      });
      if (stop) co_return;
      if (gone) {
        ++stats_.relists_after_gone;
        break;
      }
      if (!s.ok()) {
        if (s.error().message.find("410 Gone") != std::string::npos) {
          ++stats_.relists_after_gone;
          break;
        }
        co_await Sleep(attempt++);
      } else {
        attempt = 0;  // the server ended the watch (timeoutSeconds): resume from where it stopped
      }
    }
  }
}

}  // namespace vmesh::kube
