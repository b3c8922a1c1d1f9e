#include "models_binding.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <vector>

#include "deepdist/logreg.h"
#include "deepdist/mlp.h"
#include "errors.h"
#include "model_arrays.h"

namespace deepdist::python {
namespace {

namespace py = pybind11;

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using LabelArray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

// The model of `tables`, which must have the tables of `arch`.
Model MlpModel(py::handle tables, const mlp::Architecture& arch) {
  Model model = ModelFromDict(tables, "model");
  if (!mlp::Fits(model, arch)) {
    throw py::value_error(
        "model: does not have the tables of this architecture (layer0 ... layerN, a row per unit "
        "of its weights over the layer's inputs and its bias)");
  }
  return model;
}

// Examples x (n x inputs) and, when given, labels y (n) in 0..classes-1.
size_t CheckExamples(const FloatArray& x, const LabelArray* y, const mlp::Architecture& arch) {
  if (x.ndim() != 2 || static_cast<size_t>(x.shape(1)) != arch.inputs) {
    throw py::value_error("x: must be a 2-D array of " + std::to_string(arch.inputs) +
                          " features a row");
  }
  const size_t n = static_cast<size_t>(x.shape(0));
  if (y != nullptr) {
    if (y->ndim() != 1 || static_cast<size_t>(y->shape(0)) != n) {
      throw py::value_error("y: must be a 1-D array of one label per row of x");
    }
    for (size_t i = 0; i < n; ++i) {
      const int32_t label = y->at(static_cast<py::ssize_t>(i));
      if (label < 0 || static_cast<size_t>(label) >= arch.classes) {
        throw py::value_error("y: label " + std::to_string(label) + " is not a class 0.." +
                              std::to_string(arch.classes - 1));
      }
    }
  }
  return n;
}

void BindMlp(py::module_& m) {
  py::class_<mlp::Architecture>(m, "Architecture",
                                "The MLP's shape: inputs, hidden layer sizes, classes.")
      .def(py::init([](size_t inputs, std::vector<size_t> hidden, size_t classes) {
             if (inputs < 1) throw py::value_error("inputs: must be at least 1");
             if (classes < 2) throw py::value_error("classes: must be at least 2");
             for (size_t units : hidden) {
               if (units < 1) throw py::value_error("hidden: every layer needs a unit");
             }
             return mlp::Architecture{inputs, std::move(hidden), classes};
           }),
           py::arg("inputs"), py::arg("hidden"), py::arg("classes"))
      .def_readonly("inputs", &mlp::Architecture::inputs)
      .def_readonly("hidden", &mlp::Architecture::hidden)
      .def_readonly("classes", &mlp::Architecture::classes)
      .def("__repr__", [](const mlp::Architecture& a) {
        std::string hidden;
        for (size_t u : a.hidden) hidden += (hidden.empty() ? "" : ", ") + std::to_string(u);
        return "Architecture(inputs=" + std::to_string(a.inputs) + ", hidden=[" + hidden +
               "], classes=" + std::to_string(a.classes) + ")";
      });

  m.def(
      "new_model",
      [](const mlp::Architecture& arch, uint64_t seed) {
        return DictFromModel(mlp::NewModel(arch, seed), true);
      },
      py::arg("arch"), py::arg("seed") = 1,
      "The model's tables: Glorot-uniform weights from `seed`, biases 0.");

  m.def(
      "loss_and_gradient",
      [](py::handle model, const mlp::Architecture& arch, FloatArray x, LabelArray y) {
        const Model weights = MlpModel(model, arch);
        const size_t n = CheckExamples(x, &y, arch);
        std::vector<Table> gradient;
        double loss = 0;
        {
          py::gil_scoped_release release;
          loss = mlp::LossAndGradient(weights, arch, x.data(), y.data(), n, &gradient);
        }
        py::dict out;
        for (const Table& g : gradient) {
          out[py::str(g.name())] = ArrayFromTable(g, true);
        }
        return py::make_tuple(loss, out);
      },
      py::arg("model"), py::arg("arch"), py::arg("x"), py::arg("y"),
      "(mean cross-entropy, gradient dict) of the examples x (n x inputs) with labels y.");

  m.def(
      "predict",
      [](py::handle model, const mlp::Architecture& arch, FloatArray x) {
        const Model weights = MlpModel(model, arch);
        const size_t n = CheckExamples(x, nullptr, arch);
        py::array_t<float> out(
            {static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(arch.classes)});
        float* p = out.mutable_data();
        {
          py::gil_scoped_release release;
          for (size_t i = 0; i < n; ++i) {
            mlp::Predict(weights, arch, x.data(static_cast<py::ssize_t>(i), 0),
                         p + i * arch.classes);
          }
        }
        return out;
      },
      py::arg("model"), py::arg("arch"), py::arg("x"), "Class probabilities, n x classes.");

  m.def(
      "accuracy",
      [](py::handle model, const mlp::Architecture& arch, FloatArray x, LabelArray y) {
        const Model weights = MlpModel(model, arch);
        const size_t n = CheckExamples(x, &y, arch);
        mlp::Examples examples;
        examples.features = arch.inputs;
        examples.x.assign(x.data(), x.data() + n * arch.inputs);
        examples.y.assign(y.data(), y.data() + n);
        py::gil_scoped_release release;
        return mlp::Accuracy(weights, arch, examples);
      },
      py::arg("model"), py::arg("arch"), py::arg("x"), py::arg("y"),
      "Fraction of the examples classified right.");

  m.def(
      "read_csv",
      [](const std::string& path, int64_t label_column, double test_fraction, uint64_t seed,
         bool test_side) {
        if (label_column < -1) throw py::value_error("label_column: must be 0 or more, or -1");
        if (!(test_fraction >= 0 && test_fraction < 1)) {
          throw py::value_error("test_fraction: must be in [0, 1)");
        }
        mlp::ReadOptions options;
        options.csv.label_column = label_column;
        options.split = test_fraction > 0;
        options.seed = seed;
        options.test_fraction = test_fraction;
        options.test_side = test_side;
        Result<mlp::Examples> read = Status::OK();
        {
          py::gil_scoped_release release;
          read = mlp::ReadCsv(path, options);
        }
        const mlp::Examples examples = ValueOrThrow(std::move(read));
        py::array_t<float> x({static_cast<py::ssize_t>(examples.rows()),
                              static_cast<py::ssize_t>(examples.features)});
        if (!examples.x.empty()) {
          std::memcpy(x.mutable_data(), examples.x.data(), examples.x.size() * sizeof(float));
        }
        py::array_t<int32_t> y(static_cast<py::ssize_t>(examples.rows()));
        if (!examples.y.empty()) {
          std::memcpy(y.mutable_data(), examples.y.data(), examples.y.size() * sizeof(int32_t));
        }
        return py::make_tuple(x, y);
      },
      py::arg("path"), py::arg("label_column") = -1, py::arg("test_fraction") = 0.0,
      py::arg("seed") = 1, py::arg("test_side") = false,
      "(x, y) of a CSV file; with test_fraction > 0, only the training lines of the seeded "
      "split (the test lines with test_side=True), as `deepdist mlp train` splits.");

  m.def("is_test_line", &mlp::IsTestLine, py::arg("line"), py::arg("seed"),
        py::arg("test_fraction"), "Whether `line` is a test line of the seeded split.");

  m.def(
      "save",
      [](const std::string& path, py::handle model, const mlp::Architecture& arch) {
        const Model weights = MlpModel(model, arch);
        ThrowIfError(mlp::Save(path, weights, arch));
      },
      py::arg("path"), py::arg("model"), py::arg("arch"),
      "Writes the model file `deepdist mlp train --output` writes.");

  m.def(
      "load",
      [](const std::string& path) {
        mlp::Loaded loaded = ValueOrThrow(mlp::Load(path));
        return py::make_tuple(DictFromModel(loaded.model, true), loaded.arch);
      },
      py::arg("path"), "(model, arch) of a model file.");
}

// The weights table "w" of a logistic regression model, as a contiguous
// (rows x 16) array.
FloatArray LogregWeights(py::handle model) {
  if (!py::isinstance<py::dict>(model) || !model.cast<py::dict>().contains("w")) {
    throw py::value_error("model: must be a dict with the weights table \"w\"");
  }
  FloatArray w = FloatArray::ensure(model.cast<py::dict>()["w"]);
  if (!w || w.ndim() != 2 || static_cast<size_t>(w.shape(1)) != logreg::kWeightsPerRow) {
    PyErr_Clear();
    throw py::value_error("model[\"w\"]: must be a 2-D array of 16 weights a row");
  }
  return w;
}

void BindLogreg(py::module_& m) {
  py::class_<logreg::Example>(m, "Example", "One libsvm line: a label and sparse features.")
      .def(py::init<>())
      .def_readwrite("positive", &logreg::Example::positive)
      .def_readwrite("index", &logreg::Example::index)
      .def_readwrite("value", &logreg::Example::value);

  m.attr("WEIGHTS_PER_ROW") = logreg::kWeightsPerRow;

  m.def(
      "parse_line",
      [](const std::string& line) {
        logreg::Example example;
        ThrowIfError(logreg::ParseLine(line, &example));
        return example;
      },
      py::arg("line"), "One libsvm line, \"LABEL INDEX:VALUE ...\" (indices from 1).");

  m.def(
      "scan_file",
      [](const std::string& path) {
        Result<logreg::Scan> scan = Status::OK();
        {
          py::gil_scoped_release release;
          scan = logreg::ScanFile(path);
        }
        const logreg::Scan s = ValueOrThrow(std::move(scan));
        return py::make_tuple(s.max_index, s.examples);
      },
      py::arg("path"), "(largest feature index, examples) of a libsvm file, every line checked.");

  m.def(
      "new_model",
      [](uint64_t features) {
        if (features < 1 || features > logreg::kMaxFeatures) {
          throw py::value_error("features: must be between 1 and 2^31");
        }
        return DictFromModel(logreg::NewModel(features), true);
      },
      py::arg("features"), "The model for features 1..features and the bias, all weights 0.");

  m.def(
      "probability",
      [](py::handle model, const logreg::Example& example) {
        return logreg::Probability(ModelFromDict(model, "model"), example);
      },
      py::arg("model"), py::arg("example"), "P(positive) of one example.");

  m.def(
      "loss_and_gradient",
      [](py::handle model, const std::vector<logreg::Example>& examples) {
        const FloatArray w = LogregWeights(model);
        const uint64_t weights = static_cast<uint64_t>(w.shape(0)) * logreg::kWeightsPerRow;
        for (const logreg::Example& e : examples) {
          for (uint32_t index : e.index) {
            if (index >= weights) {
              throw py::value_error("examples: feature " + std::to_string(index) +
                                    " is beyond the model's " + std::to_string(weights - 1));
            }
          }
        }
        std::vector<float> gradient;
        std::vector<RowId> rows;
        double loss = 0;
        {
          py::gil_scoped_release release;
          rows = logreg::RowsOf(examples);
          const float* values = w.data();
          loss = logreg::LossAndGradient(
              examples, rows, [values](uint64_t j) { return values[j]; }, &gradient);
        }
        py::array_t<int64_t> ids(static_cast<py::ssize_t>(rows.size()));
        for (size_t i = 0; i < rows.size(); ++i) {
          ids.mutable_at(static_cast<py::ssize_t>(i)) = static_cast<int64_t>(rows[i]);
        }
        py::array_t<float> values({static_cast<py::ssize_t>(rows.size()),
                                   static_cast<py::ssize_t>(logreg::kWeightsPerRow)});
        if (!gradient.empty()) {
          std::memcpy(values.mutable_data(), gradient.data(), gradient.size() * sizeof(float));
        }
        py::dict update;
        update["w"] = py::make_tuple(ids, values);
        return py::make_tuple(loss, update);
      },
      py::arg("model"), py::arg("examples"),
      "(mean log-loss, sparse update {\"w\": (row_ids, gradient rows)}) of the examples.");

  m.def(
      "save",
      [](const std::string& path, py::handle model) {
        ThrowIfError(logreg::Save(path, ModelFromDict(model, "model")));
      },
      py::arg("path"), py::arg("model"),
      "Writes the model file `deepdist logreg train --output` writes.");

  m.def(
      "load",
      [](const std::string& path) { return DictFromModel(ValueOrThrow(logreg::Load(path)), true); },
      py::arg("path"), "The model of a model file.");
}

}  // namespace

void BindModels(py::module_& m) {
  py::module_ mlp = m.def_submodule("mlp", "The MLP classifier (deepdist/mlp.h).");
  BindMlp(mlp);
  py::module_ logreg = m.def_submodule("logreg", "Sparse logistic regression (deepdist/logreg.h).");
  BindLogreg(logreg);
}

}  // namespace deepdist::python
