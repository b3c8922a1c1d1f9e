#include "scope_binding.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "deepdist/cluster.h"
#include "deepdist/deepdist.h"
#include "deepdist/descent.h"
#include "errors.h"
#include "model_arrays.h"
#include "process_cluster.h"

namespace deepdist::python {
namespace {

namespace py = pybind11;

// A built-in rule and its settings (deepdist.Sgd, AdaGrad, Adam).
struct RuleSpec {
  std::string name;  // "sgd", "adagrad" or "adam".
  float lr = 0.025f;
  bool decay = false;  // Sgd: linear decay to lr * min_fraction over a train().
  float min_fraction = 1e-4f;
  float momentum = 0.0f;
  AdamBetas betas;

  std::unique_ptr<Descent> Make() const {
    DescentOptions options;
    options.momentum = momentum;
    options.adam = betas;
    std::unique_ptr<Descent> rule =
        MakeDescent(name, LearningRate{lr, decay, min_fraction}, options);
    if (!rule) {
      throw py::value_error("descent: must be sgd, adagrad or adam, not \"" + name + "\"");
    }
    return rule;
  }
};

// One DeepDist scope. Python calls it with the GIL held; train() releases
// the GIL while the engine runs, and the worker threads take it around each
// call of the Python gradient and descent. Not thread-safe: one train() at
// a time (the Python layer calls it from one thread).
class Scope : public ClusterUser {
 public:
  Scope(py::handle tables, size_t workers, const std::string& mode) {
    if (mode != "async" && mode != "sync") {
      throw py::value_error("mode: must be async or sync, not \"" + mode + "\"");
    }
    Model model = ModelFromDict(tables, "model");
    cluster_ = ProcessCluster();
    Options options;
    options.threads = workers > 0 ? workers : std::max(1u, std::thread::hardware_concurrency());
    options.mode = mode == "sync" ? Mode::kSync : Mode::kAsync;
    options.epochs = 1;  // Each train() is one pass over its partitions.
    options.cluster = cluster_->ranks() > 1 ? cluster_.get() : nullptr;
    options.interrupt = &interrupt_;
    options.on_tick = [this] { OnTick(); };
    dd_ = std::make_unique<DeepDist>(std::move(model), std::move(options));
    RegisterClusterUser(this);
  }
  ~Scope() override { Close(); }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

  void Train(py::iterable partitions_in, py::object gradient, py::object descent,
             const RuleSpec* rule) {
    if (!dd_) throw py::value_error("DeepDist: the scope is closed");
    py::list partitions;
    for (py::handle p : partitions_in) partitions.append(p);
    const size_t n = partitions.size();
    if (n == 0) throw py::value_error("partitions: there are none to train on");
    if (!PyCallable_Check(gradient.ptr())) throw py::type_error("gradient: must be callable");
    const bool python_descent = !descent.is_none();
    if (python_descent && !PyCallable_Check(descent.ptr())) {
      throw py::type_error("descent: must be callable, a rule name or a rule");
    }
    if (!python_descent && rule == nullptr) throw py::type_error("descent: no rule given");
    // The engine lists partitions as specs; a task's index picks the Python
    // object, and the spec's name is what an error message shows.
    std::vector<PartitionSpec> specs(n);
    for (size_t i = 0; i < n; ++i) {
      specs[i].path = "partition " + std::to_string(i);
      specs[i].size_hint = 1;
    }

    PythonErrors errors;
    errors_ = &errors;
    interrupt_ = false;
    GradientFn fn = [&](const Model& model, Partition& part) -> Update {
      py::gil_scoped_acquire gil;
      if (errors.has()) throw StopTraining();  // Another worker's call failed.
      try {
        py::object update = gradient(DictFromModel(model, false), partitions[part.index()]);
        if (!python_descent) return UpdateFromDict(update, model, "gradient's update");
        // The Python descent changes a copy of the worker's model; the
        // change goes to the model server, which adds it to the master rows.
        py::object changed = DictFromModel(model, true);
        py::object returned = descent(changed, update);
        if (!returned.is_none()) changed = returned;
        return ChangeFromDict(changed, model, "descent's model");
      } catch (py::error_already_set& e) {
        errors.Record(std::move(e));
      } catch (const py::builtin_exception& e) {
        errors.Record(e);
      }
      throw StopTraining();
    };

    Status status;
    if (python_descent) {
      const DescentFn add = [](std::span<float> row, std::span<const float> change, float) {
        for (size_t k = 0; k < row.size(); ++k) row[k] += change[k];
      };
      py::gil_scoped_release release;
      status = dd_->train(specs, fn, add);
    } else {
      // Kept past train(): the store's rule forwards to it until the next.
      rule_ = rule->Make();
      py::gil_scoped_release release;
      status = dd_->train(specs, fn, *rule_);
    }
    errors_ = nullptr;
    if (errors.has()) errors.Rethrow();
    ThrowIfError(status);
  }

  py::dict ModelDict() const {
    if (!dd_) throw py::value_error("DeepDist: the scope is closed");
    return DictFromModel(dd_->model(), true);
  }

  int rank() const { return cluster_ ? cluster_->rank() : 0; }
  int ranks() const { return cluster_ ? cluster_->ranks() : 1; }
  size_t workers() const { return dd_ ? dd_->options().threads : 0; }
  size_t updates_applied() const { return dd_ ? dd_->updates_applied() : 0; }
  bool closed() const { return dd_ == nullptr; }

  // Stops the model server (under MPI, every rank closes its scopes in the
  // same order, as it made them).
  void Close() {
    if (!dd_) return;
    {
      py::gil_scoped_release release;
      dd_.reset();
      rule_.reset();
    }
    UnregisterClusterUser(this);
    cluster_.reset();
  }
  void CloseForExit() override { Close(); }

 private:
  // On the thread that called train(), about every 100 ms: Ctrl-C stops the
  // workers, and KeyboardInterrupt is raised once they have.
  void OnTick() {
    py::gil_scoped_acquire gil;
    if (errors_ != nullptr && !interrupt_.load() && PyErr_CheckSignals() != 0) {
      errors_->RecordCurrent();
      interrupt_ = true;
    }
  }

  std::shared_ptr<Cluster> cluster_;
  std::unique_ptr<DeepDist> dd_;
  std::unique_ptr<Descent> rule_;
  std::atomic<bool> interrupt_{false};
  PythonErrors* errors_ = nullptr;  // The running train()'s.
};

}  // namespace

void BindScope(py::module_& m) {
  py::class_<RuleSpec>(m, "RuleSpec", "A built-in descent rule and its settings.")
      .def(py::init([](const std::string& name, float lr, bool decay, float min_fraction,
                       float momentum, float beta1, float beta2, float epsilon) {
             RuleSpec spec{name, lr, decay, min_fraction, momentum, {beta1, beta2, epsilon}};
             spec.Make();  // Checks the name.
             return spec;
           }),
           py::arg("name"), py::arg("lr"), py::arg("decay"), py::arg("min_fraction"),
           py::arg("momentum"), py::arg("beta1"), py::arg("beta2"), py::arg("epsilon"));

  py::class_<Scope>(m, "Scope", "The engine's DeepDist scope (see deepdist.DeepDist).")
      .def(py::init<py::handle, size_t, const std::string&>(), py::arg("model"), py::arg("workers"),
           py::arg("mode"))
      .def("train", &Scope::Train, py::arg("partitions"), py::arg("gradient"),
           py::arg("descent").none(true), py::arg("rule").none(true))
      .def("model", &Scope::ModelDict)
      .def("close", &Scope::Close)
      .def_property_readonly("rank", &Scope::rank)
      .def_property_readonly("ranks", &Scope::ranks)
      .def_property_readonly("workers", &Scope::workers)
      .def_property_readonly("updates_applied", &Scope::updates_applied)
      .def_property_readonly("closed", &Scope::closed);
}

}  // namespace deepdist::python
