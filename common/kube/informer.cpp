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

Informer::Informer(KubeClient& client, InformerOptions options, InformerHandlers handlers)
    : client_(client), options_(std::move(options)), handlers_(std::move(handlers)) {}

std::string Informer::Query(bool watch) const {
  std::string q = options_.collection + "?";
  if (!options_.label_selector.empty()) q += "labelSelector=" + UrlEncode(options_.label_selector) + "&";
  if (watch) {
    q += "watch=1&allowWatchBookmarks=true&resourceVersion=" + cache_.resource_version +
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
    ApplyList(list->body, cache_);
    if (handlers_.on_list) handlers_.on_list(cache_.objects);
    attempt = 0;

    // Watch until the version is gone.
    bool gone = false;
    while (!gone && keep_going()) {
      ++stats_.watches;
      bool stop = false;
      Status s = co_await client_.Watch(Query(true), [&](const WatchEvent& e) {
        switch (ApplyWatchEvent(e, cache_)) {
          case WatchEffect::kGone:
            gone = true;
            return false;
          case WatchEffect::kError:
            return false;
          case WatchEffect::kBookmark:
            return true;
          case WatchEffect::kChanged:
            break;
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
