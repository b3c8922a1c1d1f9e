// What a checkpoint keeps of a training command's flags, and the partitions
// it trains: a resumed run (--resume DIR) takes both from the checkpoint.
//
// Each command lists its run-defining flags as Settings. On --resume, each
// one not given on the command line takes the checkpoint's value, one given
// with the same value is fine, and one given with another value is a usage
// error naming the flag. Flags listed as `may_change` (--threads) take the
// checkpoint's value when left out and the new one when given.
#ifndef DEEPDIST_SRC_CLI_RUN_SETTINGS_H_
#define DEEPDIST_SRC_CLI_RUN_SETTINGS_H_

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <optional>
#include <vector>

#include "deepdist/partition.h"
#include "deepdist/status.h"

namespace deepdist::cli {

template <typename Flags>
struct Setting {
  std::string name;  // The long flag, without "--".
  std::function<std::string(const Flags&)> get;
  std::function<bool(Flags&, const std::string&)> set;
  bool may_change = false;
  // The value a checkpoint saved before this setting existed stands for
  // (the flag's default then); unset: such a checkpoint is refused.
  std::optional<std::string> absent;
};

// A setting bound to the field `field(flags)` returns: numbers as text
// that reads back to the same value, strings as they are, lists of strings
// one per line.
template <typename Flags, typename Field>
Setting<Flags> Bind(std::string name, Field field, bool may_change = false) {
  using T = std::remove_reference_t<decltype(field(std::declval<Flags&>()))>;
  Setting<Flags> s;
  s.name = std::move(name);
  s.may_change = may_change;
  s.get = [field](const Flags& f) {
    const T& v = field(const_cast<Flags&>(f));
    if constexpr (std::is_same_v<T, std::string>) {
      return v;
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      std::string out;
      for (const std::string& item : v) out += item + "\n";
      return out;
    } else if constexpr (std::is_floating_point_v<T>) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.17g", static_cast<double>(v));
      return std::string(buf);
    } else {
      return std::to_string(v);
    }
  };
  s.set = [field](Flags& f, const std::string& text) {
    T& v = field(f);
    if constexpr (std::is_same_v<T, std::string>) {
      v = text;
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      v.clear();
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);) v.push_back(line);
    } else {
      std::istringstream in(text);
      T value{};
      if (!(in >> value)) return false;
      v = value;
    }
    return true;
  };
  return s;
}

// `s`, taking `absent` where a checkpoint predates it.
template <typename Flags>
Setting<Flags> WithAbsent(Setting<Flags> s, std::string absent) {
  s.absent = std::move(absent);
  return s;
}

// The names of `settings` given on `cmd`'s command line.
template <typename Flags>
std::set<std::string> GivenSettings(const CLI::App& cmd,
                                    const std::vector<Setting<Flags>>& settings) {
  std::set<std::string> given;
  for (const Setting<Flags>& s : settings) {
    if (cmd.count("--" + s.name) > 0) given.insert(s.name);
  }
  return given;
}

template <typename Flags>
std::string SaveSettings(const std::vector<Setting<Flags>>& settings, const Flags& f) {
  nlohmann::json j = nlohmann::json::object();
  for (const Setting<Flags>& s : settings) j[s.name] = s.get(f);
  return j.dump();
}

// Takes the settings of a checkpoint (`saved`, from `source`) into `f`,
// except those in `given`, which must agree; "" or the "--flag: problem"
// message.
template <typename Flags>
std::string ApplySettings(const std::vector<Setting<Flags>>& settings, const std::string& saved,
                          const std::string& source, const std::set<std::string>& given, Flags* f) {
  const nlohmann::json j = nlohmann::json::parse(saved, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return "--resume: " + source + ": the saved settings are damaged";
  for (const Setting<Flags>& s : settings) {
    auto it = j.find(s.name);
    std::string value;
    if (it != j.end() && it->is_string()) {
      value = it->template get<std::string>();
    } else if (it == j.end() && s.absent) {
      value = *s.absent;
    } else {
      return "--resume: " + source + ": no saved setting " + s.name;
    }
    if (given.count(s.name) > 0) {
      if (!s.may_change && s.get(*f) != value) {
        std::string shown = value;
        for (char& c : shown) c = c == '\n' ? ' ' : c;
        while (!shown.empty() && shown.back() == ' ') shown.pop_back();
        return "--" + s.name + ": conflicts with the checkpoint's \"" + shown + "\" (" + source +
               "); leave it out to continue with the checkpoint's";
      }
      continue;
    }
    if (!s.set(*f, value)) return "--resume: " + source + ": a damaged setting " + s.name;
  }
  return "";
}

// The partitions a run trains, as a checkpoint keeps them (a resumed run
// trains the same ones whatever its threads or ranks), with each file's
// size, which LoadPartitions checks.
std::string SavePartitions(const std::vector<PartitionSpec>& parts);
[[nodiscard]] Result<std::vector<PartitionSpec>> LoadPartitions(const std::string& text,
                                                                const std::string& source);

// The checkpoint file in a --checkpoint / --resume folder.
inline std::string CheckpointPath(const std::string& dir) { return dir + "/checkpoint.ddc"; }

// Makes `dir` ready to take checkpoints: creates it, removes the temporary
// files of saves a crash or a kill cut short (checkpoint.ddc's and the
// shard files' of a distributed run; the checkpoint itself is
// never half-written: it is renamed into place whole), and checks that a
// new file can be written there. Under MPI rank 0 cleans (`clean`), the
// other ranks, which share the folder, only check it.
[[nodiscard]] Status PrepareCheckpointDir(const std::string& dir, bool clean = true);

}  // namespace deepdist::cli

#endif  // DEEPDIST_SRC_CLI_RUN_SETTINGS_H_
