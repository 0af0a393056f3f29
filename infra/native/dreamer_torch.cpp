// C ABI shim over libtorch's stable C++ API. See dreamer_torch.h for the contract.
#include "dreamer_torch.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#include <atomic>
#include <dlfcn.h>
#include <chrono>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace {

thread_local std::string g_error;
std::atomic<int64_t> g_live{0};

inline at::Tensor& T(dt_tensor h) {
  if (h == nullptr) throw std::invalid_argument("null tensor handle");
  return *static_cast<at::Tensor*>(h);
}

inline dt_tensor wrap(at::Tensor t) {
  g_live.fetch_add(1, std::memory_order_relaxed);
  return new at::Tensor(std::move(t));
}

std::string shape_of(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

at::Device device_of(int32_t type, int32_t index) {
  return at::Device(static_cast<c10::DeviceType>(type), static_cast<c10::DeviceIndex>(index));
}

// Runs body, converting every exception into a status + thread-local message. `operands`
// (optional) is appended so shape errors always name the shapes involved.
template <typename F>
int guarded(F&& body, const char* opname = nullptr, std::initializer_list<dt_tensor> operands = {}) {
  try {
    body();
    return 0;
  } catch (const c10::Error& e) {
    g_error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    g_error = e.what();
  } catch (...) {
    g_error = "unknown C++ exception";
  }
  try {
    if (operands.size() > 0) {
      std::ostringstream s;
      s << " [" << (opname ? opname : "op") << " operands:";
      for (auto h : operands) s << ' ' << (h ? shape_of(T(h)) : std::string("none"));
      s << ']';
      g_error += s.str();
    }
  } catch (...) {
  }
  return 1;
}

at::Tensor binary(int32_t op, const at::Tensor& a, const at::Tensor& b) {
  switch (op) {
    case 0: return at::add(a, b);
    case 1: return at::sub(a, b);
    case 2: return at::mul(a, b);
    case 3: return at::div(a, b);
    default: throw std::invalid_argument("unknown binary op code");
  }
}

const char* binary_name(int32_t op) {
  static const char* names[] = {"add", "sub", "mul", "div"};
  return op >= 0 && op < 4 ? names[op] : "binary";
}

}  // namespace

extern "C" {

const char* dt_last_error(void) { return g_error.c_str(); }

const char* dt_version(void) { return TORCH_VERSION; }

int64_t dt_live_tensor_count(void) { return g_live.load(std::memory_order_relaxed); }

int dt_engine_add_loop(dt_tensor a, dt_tensor b, int64_t n, double* seconds) {
  return guarded([&] {
    const auto& x = T(a);
    const auto& y = T(b);
    auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n; i++) {
      at::Tensor c = at::add(x, y);
    }
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  });
}

int dt_free(dt_tensor t) {
  return guarded([&] {
    if (t == nullptr) return;
    delete static_cast<at::Tensor*>(t);
    g_live.fetch_sub(1, std::memory_order_relaxed);
  });
}

int dt_alias(dt_tensor t, dt_tensor* out) {
  return guarded([&] { *out = wrap(T(t)); });
}

int dt_dim(dt_tensor t, int64_t* out) {
  return guarded([&] { *out = T(t).dim(); });
}

int dt_sizes(dt_tensor t, int64_t* out, int64_t cap) {
  return guarded([&] {
    auto s = T(t).sizes();
    if ((int64_t)s.size() > cap) throw std::invalid_argument("sizes buffer too small");
    std::copy(s.begin(), s.end(), out);
  });
}

int dt_strides(dt_tensor t, int64_t* out, int64_t cap) {
  return guarded([&] {
    auto s = T(t).strides();
    if ((int64_t)s.size() > cap) throw std::invalid_argument("strides buffer too small");
    std::copy(s.begin(), s.end(), out);
  });
}

int dt_numel(dt_tensor t, int64_t* out) {
  return guarded([&] { *out = T(t).numel(); });
}

int dt_dtype(dt_tensor t, int32_t* out) {
  return guarded([&] { *out = static_cast<int32_t>(T(t).scalar_type()); });
}

int dt_device(dt_tensor t, int32_t* type, int32_t* index) {
  return guarded([&] {
    auto d = T(t).device();
    *type = static_cast<int32_t>(d.type());
    *index = d.has_index() ? d.index() : (d.is_cpu() ? -1 : 0);
  });
}

int dt_is_contiguous(dt_tensor t, int32_t* out) {
  return guarded([&] { *out = T(t).is_contiguous() ? 1 : 0; });
}

int dt_data_ptr(dt_tensor t, void** out) {
  return guarded([&] { *out = T(t).data_ptr(); });
}

int dt_item_double(dt_tensor t, double* out) {
  return guarded([&] { *out = T(t).item<double>(); });
}

int dt_item_int(dt_tensor t, int64_t* out) {
  return guarded([&] { *out = T(t).item<int64_t>(); });
}

int dt_empty(const int64_t* shape, int64_t ndim, int32_t dtype, int32_t dev_type, int32_t dev_index, dt_tensor* out) {
  return guarded([&] {
    auto opts = at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)).device(device_of(dev_type, dev_index));
    *out = wrap(at::empty(at::IntArrayRef(shape, ndim), opts));
  });
}

int dt_full(const int64_t* shape, int64_t ndim, double value, int32_t dtype, int32_t dev_type, int32_t dev_index, dt_tensor* out) {
  return guarded([&] {
    auto opts = at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)).device(device_of(dev_type, dev_index));
    *out = wrap(at::full(at::IntArrayRef(shape, ndim), value, opts));
  });
}

int dt_from_data(const void* data, int64_t nbytes, const int64_t* shape, int64_t ndim, int32_t dtype, dt_tensor* out) {
  return guarded([&] {
    auto t = at::empty(at::IntArrayRef(shape, ndim), at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)));
    if ((int64_t)t.nbytes() != nbytes)
      throw std::invalid_argument("data length " + std::to_string(nbytes) + " bytes does not match shape " + shape_of(t) +
                                  " (" + std::to_string(t.nbytes()) + " bytes)");
    if (nbytes > 0) std::memcpy(t.data_ptr(), data, nbytes);
    *out = wrap(std::move(t));
  });
}

int dt_to(dt_tensor t, int32_t dtype, int32_t dev_type, int32_t dev_index, int32_t copy, dt_tensor* out) {
  return guarded([&] {
    *out = wrap(T(t).to(device_of(dev_type, dev_index), static_cast<at::ScalarType>(dtype), false, copy != 0));
  });
}

int dt_binary(int32_t op, dt_tensor a, dt_tensor b, dt_tensor* out) {
  return guarded([&] { *out = wrap(binary(op, T(a), T(b))); }, binary_name(op), {a, b});
}

int dt_binary_scalar(int32_t op, dt_tensor a, double s, dt_tensor* out) {
  return guarded([&] {
    const auto& x = T(a);
    switch (op) {
      case 0: *out = wrap(at::add(x, s)); break;
      case 1: *out = wrap(at::sub(x, s)); break;
      case 2: *out = wrap(at::mul(x, s)); break;
      case 3: *out = wrap(at::div(x, s)); break;
      default: throw std::invalid_argument("unknown binary op code");
    }
  });
}

int dt_binary_scalar_i(int32_t op, dt_tensor a, int64_t s, dt_tensor* out) {
  return guarded([&] {
    const auto& x = T(a);
    switch (op) {
      case 0: *out = wrap(at::add(x, s)); break;
      case 1: *out = wrap(at::sub(x, s)); break;
      case 2: *out = wrap(at::mul(x, s)); break;
      case 3: *out = wrap(at::div(x, s)); break;
      default: throw std::invalid_argument("unknown binary op code");
    }
  });
}

int dt_rsub_scalar(double s, dt_tensor a, dt_tensor* out) {
  return guarded([&] { *out = wrap(at::rsub(T(a), s)); });
}

int dt_rdiv_scalar(double s, dt_tensor a, dt_tensor* out) {
  return guarded([&] { *out = wrap(at::mul(at::reciprocal(T(a)), s)); });
}

int dt_neg(dt_tensor a, dt_tensor* out) {
  return guarded([&] { *out = wrap(at::neg(T(a))); });
}

int dt_binary_(int32_t op, dt_tensor a, dt_tensor b, double alpha) {
  return guarded(
      [&] {
        auto& x = T(a);
        const auto& y = T(b);
        switch (op) {
          case 0: x.add_(y, alpha); break;
          case 1: x.sub_(y, alpha); break;
          case 2: x.mul_(y); break;
          case 3: x.div_(y); break;
          default: throw std::invalid_argument("unknown binary op code");
        }
      },
      binary_name(op), {a, b});
}

int dt_binary_scalar_(int32_t op, dt_tensor a, double s) {
  return guarded([&] {
    auto& x = T(a);
    switch (op) {
      case 0: x.add_(s); break;
      case 1: x.sub_(s); break;
      case 2: x.mul_(s); break;
      case 3: x.div_(s); break;
      default: throw std::invalid_argument("unknown binary op code");
    }
  });
}

int dt_copy_(dt_tensor dst, dt_tensor src) {
  return guarded([&] { T(dst).copy_(T(src)); }, "copy_", {dst, src});
}

int dt_zero_(dt_tensor t) {
  return guarded([&] { T(t).zero_(); });
}

int dt_matmul(dt_tensor a, dt_tensor b, dt_tensor* out) {
  return guarded([&] { *out = wrap(at::matmul(T(a), T(b))); }, "matmul", {a, b});
}

int dt_linear(dt_tensor x, dt_tensor w, dt_tensor b, dt_tensor* out) {
  return guarded(
      [&] {
        c10::optional<at::Tensor> bias;
        if (b != nullptr) bias = T(b);
        *out = wrap(at::linear(T(x), T(w), bias));
      },
      "linear", {x, w, b});
}

int dt_requires_grad(dt_tensor t, int32_t* out) {
  return guarded([&] { *out = T(t).requires_grad() ? 1 : 0; });
}

int dt_set_requires_grad(dt_tensor t, int32_t value) {
  return guarded([&] { T(t).set_requires_grad(value != 0); });
}

int dt_grad(dt_tensor t, dt_tensor* out) {
  return guarded([&] {
    const auto& g = T(t).grad();
    *out = g.defined() ? wrap(g) : nullptr;
  });
}

int dt_set_grad(dt_tensor t, dt_tensor grad) {
  return guarded([&] { T(t).mutable_grad() = grad ? T(grad) : at::Tensor(); });
}

int dt_backward(dt_tensor t, dt_tensor grad, int32_t retain_graph, int32_t create_graph) {
  return guarded(
      [&] {
        std::vector<at::Tensor> grads;
        if (grad != nullptr) grads.push_back(T(grad));
        c10::optional<bool> retain;
        if (retain_graph) retain = true;
        torch::autograd::backward({T(t)}, grads, retain, create_graph != 0);
      },
      "backward", {t, grad});
}

int dt_detach(dt_tensor t, dt_tensor* out) {
  return guarded([&] { *out = wrap(T(t).detach()); });
}

int dt_grad_enabled(int32_t* out) {
  return guarded([&] { *out = at::GradMode::is_enabled() ? 1 : 0; });
}

int dt_set_grad_enabled(int32_t enabled) {
  return guarded([&] { at::GradMode::set_enabled(enabled != 0); });
}

int dt_adamw_step(dt_tensor param, dt_tensor grad, dt_tensor exp_avg, dt_tensor exp_avg_sq, double lr, double beta1,
                  double beta2, double eps, double weight_decay, int64_t step) {
  return guarded(
      [&] {
        at::NoGradGuard no_grad;
        auto& p = T(param);
        const auto& g = T(grad);
        auto& m = T(exp_avg);
        auto& v = T(exp_avg_sq);
        // Same sequence of kernels as torch.optim.AdamW (single-tensor path) for bitwise agreement.
        p.mul_(1 - lr * weight_decay);
        m.mul_(beta1).add_(g, 1 - beta1);
        v.mul_(beta2).addcmul_(g, g, 1 - beta2);
        double bias_correction1 = 1 - std::pow(beta1, (double)step);
        double bias_correction2 = 1 - std::pow(beta2, (double)step);
        double step_size = lr / bias_correction1;
        double bias_correction2_sqrt = std::sqrt(bias_correction2);
        auto denom = (v.sqrt() / bias_correction2_sqrt).add_(eps);
        p.addcdiv_(m, denom, -step_size);
      },
      "adamw_step", {param, grad, exp_avg, exp_avg_sq});
}

int dt_clip_grad_norm(const dt_tensor* params, int64_t n, double max_norm, double* total_norm) {
  return guarded([&] {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> grads;
    for (int64_t i = 0; i < n; i++) {
      const auto& g = T(params[i]).grad();
      if (g.defined()) grads.push_back(g);
    }
    if (grads.empty()) {
      *total_norm = 0.0;
      return;
    }
    // Mirrors torch.nn.utils.clip_grad_norm_ (norm of per-tensor norms, clamped coefficient).
    std::vector<at::Tensor> norms;
    norms.reserve(grads.size());
    auto device = grads[0].device();
    for (auto& g : grads) norms.push_back(at::norm(g, 2).to(device));
    auto total = at::norm(at::stack(norms), 2);
    auto coef = at::clamp_max(max_norm / (total + 1e-6), 1.0);
    for (auto& g : grads) g.mul_(coef.to(g.device()));
    *total_norm = total.item<double>();
  });
}

int dt_manual_seed(uint64_t seed) {
  return guarded([&] { torch::manual_seed(seed); });
}

int dt_generator_new(int32_t dev_type, int32_t dev_index, uint64_t seed, dt_generator* out) {
  return guarded([&] {
    auto device = device_of(dev_type, dev_index);
    at::Generator g;
    if (device.is_cpu()) {
      g = at::make_generator<at::CPUGeneratorImpl>(seed);
    } else {
      // Device-agnostic: clone the default generator of that device (works for CUDA builds
      // without compiling against CUDA headers), then reseed.
      auto& def = at::globalContext().defaultGenerator(device);
      std::lock_guard<std::mutex> lock(const_cast<at::Generator&>(def).mutex());
      g = def.clone();
    }
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_current_seed(seed);
    *out = new at::Generator(std::move(g));
  });
}

int dt_generator_free(dt_generator g) {
  return guarded([&] { delete static_cast<at::Generator*>(g); });
}

int dt_generator_seed(dt_generator g, uint64_t* out) {
  return guarded([&] { *out = static_cast<at::Generator*>(g)->current_seed(); });
}

int dt_generator_set_seed(dt_generator g, uint64_t seed) {
  return guarded([&] {
    auto& gen = *static_cast<at::Generator*>(g);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  });
}

int dt_generator_get_state(dt_generator g, dt_tensor* out) {
  return guarded([&] {
    at::Generator gen = g ? *static_cast<at::Generator*>(g) : at::globalContext().defaultGenerator(at::kCPU);
    std::lock_guard<std::mutex> lock(gen.mutex());
    *out = wrap(gen.get_state());
  });
}

int dt_generator_set_state(dt_generator g, dt_tensor state) {
  return guarded([&] {
    at::Generator gen = g ? *static_cast<at::Generator*>(g) : at::globalContext().defaultGenerator(at::kCPU);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(T(state));
  });
}

int dt_set_deterministic(int32_t enabled) {
  return guarded([&] { at::globalContext().setDeterministicAlgorithms(enabled != 0, false); });
}

int dt_get_deterministic(int32_t* out) {
  return guarded([&] { *out = at::globalContext().deterministicAlgorithms() ? 1 : 0; });
}

int dt_get_num_threads(int32_t* out) {
  return guarded([&] { *out = at::get_num_threads(); });
}

// OpenBLAS (libtorch's BLAS on Debian) keeps its own thread pool, sized to the machine and blind to
// at::set_num_threads; its idle workers spin in sched_yield. Resolved at run time: absent with another BLAS.
using BlasThreadsSetter = void (*)(int);
using BlasThreadsGetter = int (*)();

static BlasThreadsSetter blas_threads_setter() {
  static BlasThreadsSetter f = reinterpret_cast<BlasThreadsSetter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  return f;
}

static BlasThreadsGetter blas_threads_getter() {
  static BlasThreadsGetter f = reinterpret_cast<BlasThreadsGetter>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return f;
}

int dt_set_num_threads(int32_t n) {
  return guarded([&] { at::set_num_threads(n); });
}

int dt_get_blas_threads(int32_t* out) {
  return guarded([&] { *out = blas_threads_getter() ? blas_threads_getter()() : -1; });
}

int dt_set_blas_threads(int32_t n) {
  return guarded([&] {
    if (n < 1) throw std::invalid_argument("BLAS threads must be positive, got " + std::to_string(n));
    if (blas_threads_setter()) blas_threads_setter()(n);
  });
}

int dt_cuda_is_available(int32_t* out) {
  return guarded([&] { *out = torch::cuda::is_available() ? 1 : 0; });
}

int dt_cuda_device_count(int32_t* out) {
  return guarded([&] { *out = static_cast<int32_t>(torch::cuda::device_count()); });
}

// ---- boxed dispatcher path ----

int dt_op_find(const char* name, const char* overload, dt_op* out) {
  return guarded([&] {
    auto handle = c10::Dispatcher::singleton().findSchemaOrThrow(name, overload ? overload : "");
    *out = new c10::OperatorHandle(handle);
  });
}

int dt_op_num_args(dt_op op, int64_t* out) {
  return guarded([&] { *out = static_cast<c10::OperatorHandle*>(op)->schema().arguments().size(); });
}

namespace {

c10::TypePtr unwrap_optional(const c10::TypePtr& type) {
  if (type->kind() == c10::TypeKind::OptionalType) return type->castRaw<c10::OptionalType>()->getElementType();
  return type;
}

bool is_optional_tensor_list(const c10::TypePtr& t) {
  auto type = unwrap_optional(t);
  if (type->kind() != c10::TypeKind::ListType) return false;
  auto elem = type->castRaw<c10::ListType>()->getElementType();
  return elem->kind() == c10::TypeKind::OptionalType;
}

c10::IValue to_ivalue(const dt_value& v, const c10::Argument& arg) {
  switch (v.tag) {
    case DT_NONE: return c10::IValue();
    case DT_DEFAULT:
      if (!arg.default_value()) throw std::invalid_argument("argument '" + arg.name() + "' has no default value");
      return *arg.default_value();
    case DT_TENSOR: return v.u.p ? c10::IValue(T(v.u.p)) : c10::IValue();
    case DT_INT:
      // Like Python: a lone int passed for an int[N] argument (e.g. dim) becomes a one-element list.
      if (unwrap_optional(arg.type())->kind() == c10::TypeKind::ListType) return c10::IValue(std::vector<int64_t>{v.u.i});
      return c10::IValue(v.u.i);
    case DT_DOUBLE: return c10::IValue(v.u.d);
    case DT_BOOL: return c10::IValue(v.u.i != 0);
    case DT_INT_LIST: {
      auto p = static_cast<const int64_t*>(v.u.p);
      return c10::IValue(std::vector<int64_t>(p, p + v.len));
    }
    case DT_DOUBLE_LIST: {
      auto p = static_cast<const double*>(v.u.p);
      return c10::IValue(std::vector<double>(p, p + v.len));
    }
    case DT_BOOL_LIST: {
      auto p = static_cast<const uint8_t*>(v.u.p);
      c10::List<bool> l;
      for (int64_t i = 0; i < v.len; i++) l.push_back(p[i] != 0);
      return c10::IValue(l);
    }
    case DT_TENSOR_LIST: {
      auto p = static_cast<const dt_tensor*>(v.u.p);
      if (is_optional_tensor_list(arg.type())) {
        c10::List<c10::optional<at::Tensor>> l;
        for (int64_t i = 0; i < v.len; i++)
          l.push_back(p[i] ? c10::optional<at::Tensor>(T(p[i])) : c10::optional<at::Tensor>());
        return c10::IValue(l);
      }
      c10::List<at::Tensor> l;
      l.reserve(v.len);
      for (int64_t i = 0; i < v.len; i++) l.push_back(T(p[i]));
      return c10::IValue(l);
    }
    case DT_SCALAR_TYPE: return c10::IValue(v.u.i);
    case DT_STRING: return c10::IValue(std::string(static_cast<const char*>(v.u.p), v.len));
    case DT_GENERATOR: return v.u.p ? c10::IValue(*static_cast<at::Generator*>(v.u.p)) : c10::IValue();
    case DT_DEVICE: return c10::IValue(device_of((int32_t)v.u.i, (int32_t)v.len));
    default: throw std::invalid_argument("unknown argument tag " + std::to_string(v.tag));
  }
}

void push_result(const c10::IValue& iv, dt_value* results, int64_t capacity, int64_t& n) {
  auto slot = [&]() -> dt_value& {
    if (n >= capacity) throw std::invalid_argument("result buffer too small (capacity " + std::to_string(capacity) + ")");
    auto& r = results[n++];
    r = dt_value{};
    return r;
  };
  if (iv.isTensor()) {
    auto& r = slot();
    r.tag = DT_TENSOR;
    const auto& t = iv.toTensor();
    r.u.p = t.defined() ? wrap(t) : nullptr;
  } else if (iv.isTensorList()) {
    for (const at::Tensor& t : iv.toTensorList()) {
      auto& r = slot();
      r.tag = DT_TENSOR;
      r.u.p = wrap(t);
    }
  } else if (iv.isTuple()) {
    for (const auto& e : iv.toTupleRef().elements()) push_result(e, results, capacity, n);
  } else if (iv.isDouble()) {
    auto& r = slot();
    r.tag = DT_DOUBLE;
    r.u.d = iv.toDouble();
  } else if (iv.isInt()) {
    auto& r = slot();
    r.tag = DT_INT;
    r.u.i = iv.toInt();
  } else if (iv.isBool()) {
    auto& r = slot();
    r.tag = DT_BOOL;
    r.u.i = iv.toBool() ? 1 : 0;
  } else if (iv.isNone()) {
    auto& r = slot();
    r.tag = DT_NONE;
  } else {
    throw std::invalid_argument("unsupported result type " + iv.tagKind());
  }
}

}  // namespace

int dt_op_call(dt_op op, const dt_value* args, int64_t nargs, dt_value* results, int64_t capacity, int64_t* nresults) {
  auto& handle = *static_cast<c10::OperatorHandle*>(op);
  int64_t produced = 0;
  int status = guarded([&] {
    const auto& schema = handle.schema();
    const auto& formals = schema.arguments();
    if (nargs > (int64_t)formals.size())
      throw std::invalid_argument(schema.name() + " takes " + std::to_string(formals.size()) + " arguments, got " +
                                  std::to_string(nargs));
    torch::jit::Stack stack;
    stack.reserve(formals.size());
    for (size_t i = 0; i < formals.size(); i++) {
      if ((int64_t)i < nargs) {
        stack.push_back(to_ivalue(args[i], formals[i]));
      } else if (formals[i].default_value()) {
        stack.push_back(*formals[i].default_value());
      } else {
        throw std::invalid_argument(schema.name() + ": missing argument '" + formals[i].name() + "'");
      }
    }
    handle.callBoxed(stack);
    for (const auto& iv : stack) push_result(iv, results, capacity, produced);
  });
  if (status != 0) {
    // Free partial results so a failure never leaks handles.
    for (int64_t i = 0; i < produced; i++)
      if (results[i].tag == DT_TENSOR && results[i].u.p) dt_free(results[i].u.p);
    produced = 0;
    // Name every tensor operand's shape: shape errors then always say what met what.
    try {
      const auto& formals = handle.schema().arguments();
      std::ostringstream s;
      bool any = false;
      for (int64_t i = 0; i < nargs && i < (int64_t)formals.size(); i++) {
        if (args[i].tag == DT_TENSOR && args[i].u.p) {
          s << (any ? ", " : "") << formals[i].name() << '=' << shape_of(T(args[i].u.p));
          any = true;
        } else if (args[i].tag == DT_TENSOR_LIST) {
          auto p = static_cast<const dt_tensor*>(args[i].u.p);
          s << (any ? ", " : "") << formals[i].name() << "=[";
          for (int64_t j = 0; j < args[i].len; j++) s << (j ? ", " : "") << (p[j] ? shape_of(T(p[j])) : "none");
          s << ']';
          any = true;
        }
      }
      if (any) g_error += " [" + handle.schema().name() + " operands: " + s.str() + "]";
    } catch (...) {
    }
  }
  *nresults = produced;
  return status;
}

}  // extern "C"
