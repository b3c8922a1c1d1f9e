#include "src/monitor/status_server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace deepdist {

namespace {

// History points kept: about one a second, thinned by half when full.
constexpr size_t kMaxHistory = 2048;

const char kPage[] = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>deepdist training</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
#bar { width: 40em; height: 1.2em; border: 1px solid #888; }
#done { height: 100%; width: 0; background: #4a7; }
svg { border: 1px solid #ccc; margin-top: 1em; }
td { padding-right: 2em; }
</style>
</head>
<body>
<h1>deepdist training</h1>
<div id="bar"><div id="done"></div></div>
<table>
<tr><td>progress</td><td id="progress">-</td></tr>
<tr><td id="unit_name">words</td><td id="done_count">-</td></tr>
<tr><td id="unit_rate">words/s</td><td id="per_second">-</td></tr>
<tr><td>learning rate</td><td id="learning_rate">-</td></tr>
<tr><td>loss</td><td id="loss">-</td></tr>
<tr><td>ranks</td><td id="ranks">-</td></tr>
</table>
<svg id="chart" width="640" height="240" viewBox="0 0 640 240">
<polyline id="progress_line" fill="none" stroke="#4a7" stroke-width="2" points=""/>
<polyline id="loss_line" fill="none" stroke="#c44" stroke-width="2" points=""/>
</svg>
<p>green: progress, red: loss (scaled to its largest value), against seconds of training</p>
<script>
function points(history, value, top) {
  if (history.length === 0) return "";
  const last = Math.max(history[history.length - 1].seconds, 1e-9);
  return history.map(p => (640 * p.seconds / last).toFixed(1) + "," +
                          (240 - 240 * value(p) / top).toFixed(1)).join(" ");
}
async function refresh() {
  try {
    const s = await (await fetch("/status")).json();
    document.getElementById("done").style.width = (100 * s.progress).toFixed(1) + "%";
    document.getElementById("progress").textContent = (100 * s.progress).toFixed(1) + "%";
    document.getElementById("unit_name").textContent = s.unit;
    document.getElementById("unit_rate").textContent = s.unit + "/s";
    document.getElementById("done_count").textContent = s[s.unit];
    document.getElementById("per_second").textContent = Math.round(s[s.unit + "_per_second"]);
    document.getElementById("learning_rate").textContent = s.learning_rate.toPrecision(4);
    document.getElementById("loss").textContent = s.loss.toPrecision(4);
    document.getElementById("ranks").textContent = s.ranks;
    const top = Math.max(...s.history.map(p => p.loss), 1e-9);
    document.getElementById("progress_line").setAttribute("points", points(s.history, p => p.progress, 1));
    document.getElementById("loss_line").setAttribute("points", points(s.history, p => p.loss, top));
  } catch (e) {
    document.getElementById("progress").textContent = "training has ended";
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
)html";

}  // namespace

StatusServer::StatusServer(int ranks, StatusUnit unit)
    : ranks_(ranks), unit_(std::move(unit)), server_(std::make_unique<httplib::Server>()) {}

Result<std::unique_ptr<StatusServer>> StatusServer::Start(const std::string& bind, int port,
                                                          int ranks, StatusUnit unit) {
  std::unique_ptr<StatusServer> s(new StatusServer(ranks, std::move(unit)));
  httplib::Server& server = *s->server_;
  // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, under which
  // a second run could bind the same port and share its requests.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Read-only: every method but GET and HEAD is refused before routing.
  server.set_pre_routing_handler([](const httplib::Request& request, httplib::Response& response) {
    if (request.method == "GET" || request.method == "HEAD") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    response.status = 405;
    response.set_header("Allow", "GET, HEAD");
    response.set_content("method not allowed: this server is read-only\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  StatusServer* self = s.get();
  server.Get("/status", [self](const httplib::Request&, httplib::Response& response) {
    response.set_content(self->StatusJson(), "application/json");
  });
  server.Get("/metrics", [self](const httplib::Request&, httplib::Response& response) {
    response.set_content(self->Metrics(), "text/plain; version=0.0.4");
  });
  server.Get("/", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(kPage, "text/html; charset=utf-8");
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (response.status == 404) response.set_content("not found\n", "text/plain");
  });
  const std::string where = bind + ":" + std::to_string(port);
  if (port == 0) {
    s->port_ = server.bind_to_any_port(bind);
    if (s->port_ <= 0) return Status::InvalidArgument("--status-port: cannot listen on " + where);
  } else {
    if (!server.bind_to_port(bind, port)) {
      return Status::InvalidArgument("--status-port: cannot listen on " + where +
                                     " (in use, or not an address of this machine)");
    }
    s->port_ = port;
  }
  s->thread_ = std::thread([self] { self->server_->listen_after_bind(); });
  return s;
}

StatusServer::~StatusServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void StatusServer::Update(const StatusSample& sample) {
  std::lock_guard lock(mu_);
  last_ = sample;
  if (history_.empty() || sample.seconds >= history_.back().seconds + 1.0) {
    if (history_.size() >= kMaxHistory) {
      // Every other point: the whole run stays in view at half the detail.
      size_t keep = 0;
      for (size_t i = 0; i < history_.size(); i += 2) history_[keep++] = history_[i];
      history_.resize(keep);
    }
    history_.push_back(sample);
  }
}

std::string StatusServer::StatusJson() const {
  std::lock_guard lock(mu_);
  nlohmann::json j;
  j["progress"] = last_.progress;
  j["unit"] = unit_.name;
  j[unit_.name] = last_.done;
  j[unit_.name + "_per_second"] = last_.per_second;
  j["learning_rate"] = last_.learning_rate;
  j["loss"] = last_.loss;
  j["seconds"] = last_.seconds;
  j["ranks"] = ranks_;
  j["bytes_sent"] = last_.bytes_sent;
  j["updates"] = last_.updates;
  j["staleness"] = last_.staleness;
  nlohmann::json history = nlohmann::json::array();
  for (const StatusSample& p : history_) {
    history.push_back({{"seconds", p.seconds}, {"progress", p.progress}, {"loss", p.loss}});
  }
  j["history"] = std::move(history);
  return j.dump();
}

std::string StatusServer::Metrics() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  auto metric = [&](const std::string& name, const char* type, const std::string& help,
                    auto value) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
        << name << ' ' << value << '\n';
  };
  metric("deepdist_" + unit_.name + "_total", "counter", unit_.help, last_.done);
  metric("deepdist_" + unit_.name + "_per_second", "gauge",
         "The " + unit_.name + " done per second of training.", last_.per_second);
  metric("deepdist_progress", "gauge", "Fraction of the planned " + unit_.name + " done, 0 to 1.",
         last_.progress);
  metric("deepdist_learning_rate", "gauge", "The learning rate now.", last_.learning_rate);
  metric("deepdist_loss", "gauge", unit_.loss_help, last_.loss);
  metric("deepdist_bytes_sent_total", "counter", "Payload bytes rank 0 handed to MPI.",
         last_.bytes_sent);
  metric("deepdist_updates_total", "counter",
         "Updates rank 0's workers pushed to the model server.", last_.updates);
  out << "# HELP deepdist_staleness Updates of other workers between a worker's fetch and its "
         "last push.\n# TYPE deepdist_staleness gauge\n";
  for (size_t w = 0; w < last_.staleness.size(); ++w) {
    out << "deepdist_staleness{worker=\"" << w << "\"} " << last_.staleness[w] << '\n';
  }
  metric("deepdist_ranks", "gauge", "Ranks of the job.", ranks_);
  return out.str();
}

const char* StatusServer::Page() { return kPage; }

}  // namespace deepdist
