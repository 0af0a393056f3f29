// C ABI over libtorch used by Dreamer.Torch (C#). Every function returns 0 on success and a
// non-zero status on failure; the failure message is then available from dt_last_error()
// on the same thread. No C++ exception crosses this boundary.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DT_API __attribute__((visibility("default")))

typedef void* dt_tensor;     // heap-allocated at::Tensor (one per handle)
typedef void* dt_generator;  // heap-allocated at::Generator
typedef void* dt_op;         // c10::OperatorHandle, cached forever

// Tags of dt_value (boxed call arguments and results).
enum {
  DT_NONE = 0,        // None
  DT_DEFAULT = 1,     // use the schema's default value
  DT_TENSOR = 2,      // p: dt_tensor (NULL means None)
  DT_INT = 3,         // i
  DT_DOUBLE = 4,      // d
  DT_BOOL = 5,        // i (0/1)
  DT_INT_LIST = 6,    // p: int64_t*, len
  DT_DOUBLE_LIST = 7, // p: double*, len
  DT_TENSOR_LIST = 8, // p: dt_tensor*, len (NULL entries allowed for Tensor?[])
  DT_SCALAR_TYPE = 9, // i: c10::ScalarType
  DT_STRING = 10,     // p: utf-8 bytes, len
  DT_GENERATOR = 11,  // p: dt_generator (NULL means None)
  DT_DEVICE = 12,     // i: device type, len: index
  DT_BOOL_LIST = 13   // p: uint8_t*, len
};

typedef struct dt_value {
  int32_t tag;
  int32_t reserved;
  int64_t len;
  union {
    void* p;
    int64_t i;
    double d;
  } u;
} dt_value;

DT_API const char* dt_last_error(void);
DT_API const char* dt_version(void);
DT_API int64_t dt_live_tensor_count(void);
/* The engine's own cost of `c = a + b` with no binding around it: n calls of at::add whose
   results are dropped, timed in C++. Benchmarks subtract it to isolate a binding's overhead. */
DT_API int dt_engine_add_loop(dt_tensor a, dt_tensor b, int64_t n, double* seconds);

// Tensor lifetime and metadata.
DT_API int dt_free(dt_tensor t);
DT_API int dt_alias(dt_tensor t, dt_tensor* out);
DT_API int dt_dim(dt_tensor t, int64_t* out);
DT_API int dt_sizes(dt_tensor t, int64_t* out, int64_t cap);
DT_API int dt_strides(dt_tensor t, int64_t* out, int64_t cap);
DT_API int dt_numel(dt_tensor t, int64_t* out);
DT_API int dt_dtype(dt_tensor t, int32_t* out);
DT_API int dt_device(dt_tensor t, int32_t* type, int32_t* index);
DT_API int dt_is_contiguous(dt_tensor t, int32_t* out);
DT_API int dt_data_ptr(dt_tensor t, void** out);
DT_API int dt_item_double(dt_tensor t, double* out);
DT_API int dt_item_int(dt_tensor t, int64_t* out);

// Creation.
DT_API int dt_empty(const int64_t* shape, int64_t ndim, int32_t dtype, int32_t dev_type, int32_t dev_index, dt_tensor* out);
DT_API int dt_full(const int64_t* shape, int64_t ndim, double value, int32_t dtype, int32_t dev_type, int32_t dev_index, dt_tensor* out);
DT_API int dt_from_data(const void* data, int64_t nbytes, const int64_t* shape, int64_t ndim, int32_t dtype, dt_tensor* out);
DT_API int dt_to(dt_tensor t, int32_t dtype, int32_t dev_type, int32_t dev_index, int32_t copy, dt_tensor* out);

// Hot unboxed ops. op: 0 add, 1 sub, 2 mul, 3 div.
DT_API int dt_binary(int32_t op, dt_tensor a, dt_tensor b, dt_tensor* out);
DT_API int dt_binary_scalar(int32_t op, dt_tensor a, double s, dt_tensor* out);
DT_API int dt_binary_scalar_i(int32_t op, dt_tensor a, int64_t s, dt_tensor* out);  // integer scalar keeps int dtypes
DT_API int dt_rsub_scalar(double s, dt_tensor a, dt_tensor* out);  // s - a
DT_API int dt_rdiv_scalar(double s, dt_tensor a, dt_tensor* out);  // s / a
DT_API int dt_neg(dt_tensor a, dt_tensor* out);
DT_API int dt_binary_(int32_t op, dt_tensor a, dt_tensor b, double alpha);  // in place; alpha for add/sub
DT_API int dt_binary_scalar_(int32_t op, dt_tensor a, double s);
DT_API int dt_copy_(dt_tensor dst, dt_tensor src);
DT_API int dt_zero_(dt_tensor t);
DT_API int dt_matmul(dt_tensor a, dt_tensor b, dt_tensor* out);
DT_API int dt_linear(dt_tensor x, dt_tensor w, dt_tensor b, dt_tensor* out);

// Autograd.
DT_API int dt_requires_grad(dt_tensor t, int32_t* out);
DT_API int dt_set_requires_grad(dt_tensor t, int32_t value);
DT_API int dt_grad(dt_tensor t, dt_tensor* out);  // *out = NULL when there is no gradient
DT_API int dt_set_grad(dt_tensor t, dt_tensor grad);  // grad NULL clears it
DT_API int dt_backward(dt_tensor t, dt_tensor grad, int32_t retain_graph, int32_t create_graph);
DT_API int dt_detach(dt_tensor t, dt_tensor* out);
DT_API int dt_grad_enabled(int32_t* out);
DT_API int dt_set_grad_enabled(int32_t enabled);

// Optimiser kernels (exact torch.optim.AdamW single-tensor numerics).
DT_API int dt_adamw_step(dt_tensor param, dt_tensor grad, dt_tensor exp_avg, dt_tensor exp_avg_sq,
                         double lr, double beta1, double beta2, double eps, double weight_decay, int64_t step);
DT_API int dt_clip_grad_norm(const dt_tensor* params, int64_t n, double max_norm, double* total_norm);

// Random numbers and global control.
DT_API int dt_manual_seed(uint64_t seed);
DT_API int dt_generator_new(int32_t dev_type, int32_t dev_index, uint64_t seed, dt_generator* out);
DT_API int dt_generator_free(dt_generator g);
DT_API int dt_generator_seed(dt_generator g, uint64_t* out);
DT_API int dt_generator_set_seed(dt_generator g, uint64_t seed);
DT_API int dt_generator_get_state(dt_generator g, dt_tensor* out);  // NULL g: default CPU generator
DT_API int dt_generator_set_state(dt_generator g, dt_tensor state);
DT_API int dt_set_deterministic(int32_t enabled);
DT_API int dt_get_deterministic(int32_t* out);
DT_API int dt_get_num_threads(int32_t* out);
DT_API int dt_set_num_threads(int32_t n);
/* OpenBLAS's own pool; -1 from get when the BLAS is not OpenBLAS (set is then a no-op). */
DT_API int dt_get_blas_threads(int32_t* out);
DT_API int dt_set_blas_threads(int32_t n);
DT_API int dt_cuda_is_available(int32_t* out);
DT_API int dt_cuda_device_count(int32_t* out);

// Generic boxed dispatcher call (autograd included).
DT_API int dt_op_find(const char* name, const char* overload, dt_op* out);
DT_API int dt_op_num_args(dt_op op, int64_t* out);
DT_API int dt_op_call(dt_op op, const dt_value* args, int64_t nargs, dt_value* results, int64_t capacity, int64_t* nresults);

#ifdef __cplusplus
}
#endif
