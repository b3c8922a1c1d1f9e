// Descent rules: how the model server folds a gradient into a row.
//
// A Descent is applied where the rows live (the ParamStore). It is given one
// row, that row's optimizer state (state_per_value() floats per value, owned
// by the store) and a gradient, and it changes the row in place. Rules carry a
// learning-rate schedule; Sgd's default is word2vec's linear decay from alpha
// to alpha * 1e-4 over the run. ApplyRow and ApplyDelta are const and
// thread-safe for distinct rows (stores call them from worker and
// communication threads); set_progress is atomic. Calling a Descent as descent(model, update)
// applies a whole sparse Update to a Model (the form DeepDist::train takes);
// that form keeps its own state per table and is not thread-safe.
#ifndef DEEPDIST_DESCENT_H_
#define DEEPDIST_DESCENT_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "deepdist/model.h"

namespace deepdist {

// alpha * (1 - (1 - min_fraction) * progress) when decaying, else alpha.
struct LearningRate {
  float alpha = 0.025f;
  bool linear_decay = true;
  float min_fraction = 1e-4f;
  float At(double progress) const;
};

class Descent {
 public:
  explicit Descent(LearningRate lr) : lr_(lr) {}
  virtual ~Descent() = default;
  Descent(const Descent&) = delete;
  Descent& operator=(const Descent&) = delete;

  virtual std::string name() const = 0;
  // Floats of optimizer state per model value (0 for SGD, 1 for AdaGrad, 2
  // for Adam), and per row besides (Adam's step count).
  virtual size_t state_per_value() const = 0;
  virtual size_t state_per_row() const { return 0; }
  // The state of one row of n values, in floats; stores keep it zeroed at
  // the start, one block per row.
  size_t state_floats(size_t n) const { return n * state_per_value() + state_per_row(); }
  // How workers may apply the rule to the master rows themselves (Hogwild)
  // instead of pushing gradients: kSgd, adding `-lr * gradient` (plain SGD);
  // kAdaGrad, AdaGrad's step with the accumulators the store keeps beside the
  // rows (ParamStore::DirectState), for workers that can run it.
  enum class InPlace { kNone, kSgd, kAdaGrad };
  virtual InPlace in_place() const { return InPlace::kNone; }
  // True when the rule is plain SGD (the rule every in-place worker runs).
  bool allows_hogwild() const { return in_place() == InPlace::kSgd; }
  // row -= step(gradient); n values; state has state_floats(n) floats.
  virtual void ApplyRow(float* row, float* state, const float* gradient, size_t n,
                        float lr) const = 0;
  // Folds in `delta`, the change a worker's replica made to this row by SGD
  // at rate `delta_rate` (Downpour's accumulated update). By default the
  // rule takes -delta / delta_rate as the gradient and applies it at `lr`.
  virtual void ApplyDelta(float* row, float* state, const float* delta, size_t n, float delta_rate,
                          float lr) const;

  // Fraction of the planned work done, 0..1, drives the schedule.
  void set_progress(double fraction) { progress_.store(fraction, std::memory_order_relaxed); }
  double progress() const { return progress_.load(std::memory_order_relaxed); }
  float learning_rate() const { return schedule().At(progress()); }
  virtual const LearningRate& schedule() const { return lr_; }

  // Applies a sparse update of gradients to `model` at the current rate.
  void operator()(Model& model, const Update& update);

 private:
  LearningRate lr_;
  std::atomic<double> progress_{0.0};
  std::vector<std::vector<float>> state_;  // Per table, for operator().
};

// Stochastic gradient descent, with optional (heavy-ball) momentum mu, in
// the form of Sutskever et al. 2013 and PyTorch's SGD:
//   v = mu * v + g;  row -= lr * v      (mu = 0: row -= lr * g, no state).
// Only plain SGD (mu = 0) lets workers update master rows themselves.
class Sgd : public Descent {
 public:
  explicit Sgd(LearningRate lr = {}, float momentum = 0.0f) : Descent(lr), momentum_(momentum) {}
  std::string name() const override { return "sgd"; }
  float momentum() const { return momentum_; }
  size_t state_per_value() const override { return momentum_ > 0.0f ? 1 : 0; }
  InPlace in_place() const override { return momentum_ == 0.0f ? InPlace::kSgd : InPlace::kNone; }
  void ApplyRow(float* row, float* state, const float* gradient, size_t n, float lr) const override;
  // Without momentum, row += delta: the master takes the replica's change as
  // it is. With momentum, -delta / delta_rate is the gradient (as for any rule).
  void ApplyDelta(float* row, float* state, const float* delta, size_t n, float delta_rate,
                  float lr) const override;

 private:
  float momentum_;
};

// AdaGrad (Duchi et al. 2011): G += g^2; row -= lr * g / (sqrt(G) + eps),
// per value. The schedule defaults to a constant rate.
class AdaGrad : public Descent {
 public:
  static constexpr float kEpsilon = 1e-8f;
  explicit AdaGrad(LearningRate lr = {0.025f, false, 1e-4f}) : Descent(lr) {}
  std::string name() const override { return "adagrad"; }
  size_t state_per_value() const override { return 1; }
  InPlace in_place() const override { return InPlace::kAdaGrad; }
  void ApplyRow(float* row, float* state, const float* gradient, size_t n, float lr) const override;
};

// Adam (Kingma and Ba 2015, Algorithm 1), per value, with the step count t
// kept per row, so a row that a sparse gradient leaves out does not decay
// (as TensorFlow's LazyAdam):
//   t += 1;  m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g^2;
//   row -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
// State per row: m (n floats), v (n floats), t. Constant rate by default.
struct AdamBetas {
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
};

class Adam : public Descent {
 public:
  using Betas = AdamBetas;
  explicit Adam(LearningRate lr = {0.001f, false, 1e-4f}, Betas betas = {})
      : Descent(lr), betas_(betas) {}
  std::string name() const override { return "adam"; }
  const Betas& betas() const { return betas_; }
  size_t state_per_value() const override { return 2; }
  size_t state_per_row() const override { return 1; }
  void ApplyRow(float* row, float* state, const float* gradient, size_t n, float lr) const override;

 private:
  Betas betas_;
};

// Settings of the built-in rules beyond the learning rate.
struct DescentOptions {
  float momentum = 0.0f;  // Sgd only.
  AdamBetas adam;
};

// "sgd", "adagrad" or "adam"; nullptr for any other name. AdaGrad and Adam
// take a constant rate (lr.linear_decay is ignored for them).
std::unique_ptr<Descent> MakeDescent(const std::string& name, LearningRate lr,
                                     const DescentOptions& options = {});

}  // namespace deepdist

#endif  // DEEPDIST_DESCENT_H_
