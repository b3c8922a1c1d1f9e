#include "deepdist/descent.h"

#include <algorithm>
#include <cmath>

#include "deepdist/status.h"

namespace deepdist {

float LearningRate::At(double progress) const {
  if (!linear_decay) return alpha;
  // Linear from alpha to alpha * min_fraction over the run (gensim's
  // alpha..min_alpha; with word2vec.c's 1e-4 the same as its decay).
  const double p = std::clamp(progress, 0.0, 1.0);
  const double f = 1.0 - (1.0 - static_cast<double>(min_fraction)) * p;
  return static_cast<float>(alpha * f);
}

void Descent::operator()(Model& model, const Update& update) {
  const float lr = learning_rate();
  if (state_.size() < model.num_tables()) state_.resize(model.num_tables());
  for (size_t ti = 0; ti < update.num_tables(); ++ti) {
    const Update::TableRows* rows = update.rows_of(ti);
    if (rows == nullptr || rows->rows.empty()) continue;
    Table& table = model.table(ti);
    const size_t dim = table.dim();
    std::vector<float>& state = state_[ti];
    const size_t per_row = dim * state_per_value();
    if (per_row > 0 && state.size() < table.rows() * per_row) {
      state.resize(table.rows() * per_row, 0.0f);
    }
    for (size_t i = 0; i < rows->rows.size(); ++i) {
      const RowId r = rows->rows[i];
      ApplyRow(table.row(r), per_row > 0 ? state.data() + r * per_row : nullptr,
               rows->values.data() + i * dim, dim, lr);
    }
  }
}

void Descent::ApplyDelta(float* row, float* state, const float* delta, size_t n, float delta_rate,
                         float lr) const {
  DD_CHECK(delta_rate > 0);
  thread_local std::vector<float> gradient;  // Reused: no allocation per row.
  gradient.resize(n);
  const float inv = -1.0f / delta_rate;
  for (size_t i = 0; i < n; ++i) gradient[i] = delta[i] * inv;
  ApplyRow(row, state, gradient.data(), n, lr);
}

void Sgd::ApplyDelta(float* row, float* state, const float* delta, size_t n, float delta_rate,
                     float lr) const {
  if (momentum_ > 0.0f) {
    Descent::ApplyDelta(row, state, delta, n, delta_rate, lr);
    return;
  }
  for (size_t i = 0; i < n; ++i) row[i] += delta[i];
}

void Sgd::ApplyRow(float* row, float* state, const float* gradient, size_t n, float lr) const {
  if (momentum_ > 0.0f) {
    for (size_t i = 0; i < n; ++i) {
      state[i] = momentum_ * state[i] + gradient[i];
      row[i] -= lr * state[i];
    }
    return;
  }
  for (size_t i = 0; i < n; ++i) row[i] -= lr * gradient[i];
}

void AdaGrad::ApplyRow(float* row, float* state, const float* gradient, size_t n, float lr) const {
  for (size_t i = 0; i < n; ++i) {
    const float g = gradient[i];
    state[i] += g * g;
    row[i] -= lr * g / (std::sqrt(state[i]) + kEpsilon);
  }
}

void Adam::ApplyRow(float* row, float* state, const float* gradient, size_t n, float lr) const {
  float* m = state;
  float* v = state + n;
  float& t = state[2 * n];
  t += 1.0f;
  const auto steps = static_cast<double>(t);
  // The bias corrections, in double: 1 - b^t loses digits in float for b
  // near 1.
  const auto c1 = static_cast<float>(1.0 - std::pow(static_cast<double>(betas_.beta1), steps));
  const auto c2 = static_cast<float>(1.0 - std::pow(static_cast<double>(betas_.beta2), steps));
  const float b1 = betas_.beta1, b2 = betas_.beta2;
  for (size_t i = 0; i < n; ++i) {
    const float g = gradient[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    row[i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + betas_.epsilon);
  }
}

std::unique_ptr<Descent> MakeDescent(const std::string& name, LearningRate lr,
                                     const DescentOptions& options) {
  if (name == "sgd") return std::make_unique<Sgd>(lr, options.momentum);
  lr.linear_decay = false;
  if (name == "adagrad") return std::make_unique<AdaGrad>(lr);
  if (name == "adam") return std::make_unique<Adam>(lr, options.adam);
  return nullptr;
}

}  // namespace deepdist
