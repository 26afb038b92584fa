#include "common/kube/fake_client.h"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <mutex>
#include <set>

#include "e2e/kubesim/api_handler.h"
#include "e2e/kubesim/cluster_setup.h"
#include "e2e/kubesim/faults.h"
#include "e2e/kubesim/object_store.h"
#include "e2e/kubesim/resource_registry.h"

namespace vmesh::kube {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

// One open watch, woken (on its own executor) when the store changes or the watches are closed.
struct Waiter {
  explicit Waiter(asio::any_io_executor ex) : timer(std::move(ex)) {}
  asio::steady_timer timer;
  bool pending = false;  // a change arrived since the last Poll()
  bool closed = false;
};

kubesim::HttpRequest MakeHttpRequest(std::string method, std::string target, std::string body,
                                     std::string content_type) {
  kubesim::HttpRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.accept = "application/json";
  request.content_type = std::move(content_type);
  request.body = std::move(body);
  request.user_agent = "vmesh";
  return request;
}

ApiResponse ToApiResponse(kubesim::HttpResponse response) {
  ApiResponse out;
  out.status = response.status;
  out.raw = std::move(response.body);
  boost::system::error_code ec;
  out.body = json::parse(out.raw, ec);
  if (ec) out.body = nullptr;
  return out;
}

// Yields once, as a request to a server would: callers interleave as they do against the real client.
asio::awaitable<void> RoundTrip() { co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable); }

}  // namespace

struct FakeKubeClient::Impl {
  Impl(kubesim::ResourceRegistry r, const FakeKubeClientOptions& options)
      : registry(std::move(r)),
        store(kubesim::ObjectStore::Options{.event_log_capacity = options.event_log_capacity,
                                            .random_seed = options.random_seed}),
        handler(registry, store) {}

  ~Impl() {
    if (listener_id != 0) store.RemoveChangeListener(listener_id);
  }

  // Wakes every open watch; with `close`, ends them.
  void Wake(bool close) {
    std::lock_guard lock(mu);
    for (const auto& waiter : waiters) {
      std::weak_ptr<Waiter> weak = waiter;
      asio::post(waiter->timer.get_executor(), [weak, close] {
        if (auto w = weak.lock()) {
          w->pending = true;
          w->closed = w->closed || close;
          w->timer.cancel();
        }
      });
    }
  }

  kubesim::ResourceRegistry registry;
  kubesim::ObjectStore store;
  kubesim::ApiHandler handler;
  kubesim::FaultInjector faults;
  int listener_id = 0;
  std::atomic<int> requests{0};
  std::mutex mu;
  std::set<std::shared_ptr<Waiter>> waiters;  // guarded by mu
};

Result<FakeKubeClientPtr> MakeFakeKubeClient(FakeKubeClientOptions options) {
  kubesim::ResourceRegistry registry = kubesim::MakeBuiltinRegistry();
  auto impl = std::make_unique<FakeKubeClient::Impl>(std::move(registry), options);
  if (Status s = kubesim::CreateSystemNamespaces(impl->store); !s.ok()) return s.error();
  // Created as through the API, so their kinds are served like those of CRDs POSTed later.
  for (const auto& crds : options.crds_yaml) {
    if (Status s = kubesim::LoadSeed(impl->store, impl->registry, crds, {}); !s.ok()) return s.error().Wrap("CRDs");
  }
  return FakeKubeClientPtr(new FakeKubeClient(std::move(impl)));
}

FakeKubeClient::FakeKubeClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  std::weak_ptr<Impl> weak = impl_;
  impl_->listener_id = impl_->store.AddChangeListener([weak] {
    if (auto impl = weak.lock()) impl->Wake(false);
  });
}

FakeKubeClient::~FakeKubeClient() { CloseWatches(); }

Status FakeKubeClient::Seed(std::string_view yaml) {
  return kubesim::LoadSeed(impl_->store, impl_->registry, yaml, {});
}

void FakeKubeClient::CloseWatches() { impl_->Wake(true); }

int FakeKubeClient::requests() const { return impl_->requests.load(); }

kubesim::ObjectStore& FakeKubeClient::store() { return impl_->store; }

asio::awaitable<Result<ApiResponse>> FakeKubeClient::Request(std::string method, std::string target, std::string body,
                                                             std::string content_type) {
  co_await RoundTrip();
  ++impl_->requests;
  const std::string what = method + " " + target;
  kubesim::HttpRequest request =
      MakeHttpRequest(std::move(method), std::move(target), std::move(body), std::move(content_type));
  std::optional<kubesim::HttpResponse> response;
  const std::string_view path = std::string_view(request.target).substr(0, request.target.find('?'));
  if (path == kubesim::FaultInjector::kAdminPath) {
    response = impl_->faults.HandleAdmin(request);
  } else if (!kubesim::IsWatchTarget(request.target)) {
    response = impl_->faults.MaybeFail();
  }
  if (!response) {
    kubesim::HandleResult result = impl_->handler.Handle(request);
    if (result.watch) co_return MakeError(what + ": a watch (use Watch)");
    response = std::move(result.response);
  }
  co_return ToApiResponse(std::move(*response));
}

asio::awaitable<Status> FakeKubeClient::Watch(std::string target, std::function<bool(const WatchEvent&)> on_event) {
  co_await RoundTrip();
  ++impl_->requests;
  const std::string what = "watch " + target;
  if (impl_->faults.TakeExpireNextWatch()) {
    auto expired = DecodeWatchEvent(kubesim::ExpiredWatchLine());
    if (expired.ok()) on_event(*expired);
    co_return OkStatus();
  }
  kubesim::HandleResult result = impl_->handler.Handle(MakeHttpRequest("GET", target, "", ""));
  if (!result.watch) {
    ApiResponse answer = ToApiResponse(std::move(*result.response));
    co_return MakeError(what + ": " + (answer.ok() ? "not a watch" : answer.Describe()));
  }

  // Registered before the stream starts, so that no change between Start() and the first wait is missed.
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
  {
    std::lock_guard lock(impl_->mu);
    impl_->waiters.insert(waiter);
  }
  struct Unregister {
    Impl& impl;
    std::shared_ptr<Waiter> waiter;
    ~Unregister() {
      std::lock_guard lock(impl.mu);
      impl.waiters.erase(waiter);
    }
  } unregister{*impl_, waiter};

  kubesim::WatchStream stream(impl_->store, std::move(*result.watch));
  const auto deadline = std::chrono::steady_clock::now() + stream.request().timeout;
  const uint64_t drop_after = impl_->faults.config().drop_watch_after_events;
  uint64_t sent = 0;
  std::vector<std::string> lines = stream.Start();
  while (true) {
    for (const auto& line : lines) {
      auto event = DecodeWatchEvent(line);
      if (!event.ok()) co_return event.error().Wrap(what);
      if (!on_event(*event)) co_return OkStatus();
      if (drop_after > 0 && ++sent >= drop_after) co_return MakeError(what + ": connection dropped (fault injection)");
    }
    if (stream.done()) co_return OkStatus();
    if (!waiter->pending && !waiter->closed) {
      waiter->timer.expires_at(deadline);
      co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (waiter->closed) co_return MakeError(what + ": connection closed");
    if (std::chrono::steady_clock::now() >= deadline) co_return OkStatus();  // timeoutSeconds: the server ends it
    waiter->pending = false;
    lines = stream.Poll();
  }
}

}  // namespace vmesh::kube
