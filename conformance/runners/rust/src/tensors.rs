//! Case tensors: host storage (filled / poisoned through the crate's testing API), a device
//! copy (`Context::device_alloc` + `tensor_copy`) or a host "mirror" standing in for one, and
//! the views the ops receive.

use crate::json::Value;
use dlgemm::testing::{self, Fill};
use dlgemm::{Context, DType, Device, DeviceBuffer, TensorViewMut};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ffi::c_void;

pub const POISON: u8 = 0xA5;
const MAX_STORAGE_ELEMS: i64 = 1 << 31;

/// Zeroed host memory, 64-byte aligned, at least 64 bytes.
pub struct HostBuf {
    ptr: *mut u8,
    layout: Layout,
}

impl HostBuf {
    pub fn new(bytes: usize) -> HostBuf {
        let layout = Layout::from_size_align(bytes.max(64), 64).expect("host buffer layout");
        // SAFETY: non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "out of host memory ({bytes} bytes)");
        HostBuf { ptr, layout }
    }
    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }
    pub fn bytes(&self, start: usize, len: usize) -> &[u8] {
        // SAFETY: callers stay inside the tensor's storage, which the buffer holds.
        unsafe { std::slice::from_raw_parts(self.ptr.add(start), len) }
    }
}

impl Drop for HostBuf {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}

pub enum Dev<'c> {
    Buffer(DeviceBuffer<'c>),
    Mirror(HostBuf),
    Empty, // no bytes: a NULL data pointer, as in the C runner
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Input,
    Output,
    InOut,
}

pub struct Tensor<'c> {
    pub name: String,
    pub alias: Option<usize>,
    alias_name: Option<String>,
    pub role: Role,
    pub dtype: DType,
    pub shape: Vec<i64>,
    pub strides: Vec<i64>,
    has_strides: bool,
    pub storage_elems: i64,
    pub elem_size: usize,
    pub bytes: usize,
    pub host: HostBuf,
    dev: Option<Dev<'c>>,
}

pub fn dtype_from_name(name: Option<&str>) -> Option<DType> {
    Some(match name? {
        "float32" => DType::F32,
        "bfloat16" => DType::BF16,
        "float8_e4m3fn" => DType::F8E4M3,
        "int32" => DType::I32,
        "uint8" => DType::U8,
        _ => return None,
    })
}

fn dims(v: Option<&Value>, what: &str) -> Result<Vec<i64>, String> {
    let a = v.and_then(Value::as_arr).filter(|a| a.len() <= 8);
    let a = a.ok_or_else(|| format!("{what}: bad shape or strides"))?;
    a.iter()
        .map(|x| {
            x.as_f64()
                .map(|n| n as i64)
                .ok_or_else(|| format!("{what}: bad shape or strides"))
        })
        .collect()
}

pub fn compact_strides(shape: &[i64]) -> Vec<i64> {
    let mut strides = vec![0; shape.len()];
    let mut s = 1i64;
    for i in (0..shape.len()).rev() {
        strides[i] = s;
        s = s.saturating_mul(shape[i].max(1));
    }
    strides
}

/// 1 + Σ (shape[i]-1)·strides[i], 0 when an extent is 0, None when malformed or too big.
pub fn span_elems(shape: &[i64], strides: &[i64]) -> Option<i64> {
    if shape.contains(&0) {
        return Some(0);
    }
    if shape.iter().chain(strides).any(|&x| x < 0) {
        return None;
    }
    let mut span = 1i64;
    for (&e, &s) in shape.iter().zip(strides) {
        span = span.checked_add((e - 1).checked_mul(s)?)?;
    }
    (span <= MAX_STORAGE_ELEMS).then_some(span)
}

fn fill_view(view: &mut TensorViewMut<'_>, fill: Option<&Value>, what: &str) -> Result<(), String> {
    let fill = fill
        .filter(|f| f.get("dist").is_some())
        .ok_or_else(|| format!("{what}: fill needs \"dist\""))?;
    let (lo, hi) = (fill.num_at("lo", 0.0), fill.num_at("hi", 1.0));
    let dist = match fill.str_at("dist") {
        Some("uniform") => Fill::Uniform { lo, hi },
        Some("normal") => Fill::Normal { mean: lo, std: hi },
        Some("int") => Fill::Int { lo, hi },
        other => return Err(format!("{what}: unknown fill dist '{}'", other.unwrap_or("?"))),
    };
    testing::fill(view, fill.num_at("seed", 0.0) as u64, dist)
        .map_err(|e| format!("{what}: dlg_testing_fill -> {}: {}", e.status().name(), e.message()))
}

/// A view over raw memory (the runner owns it and outlives every view it hands out).
fn raw_view<'v>(
    ptr: *mut u8,
    device: Device,
    dtype: DType,
    shape: &[i64],
    strides: Option<&[i64]>,
) -> TensorViewMut<'v> {
    // SAFETY: `ptr` is the runner's storage of this tensor (or null for an empty one), spanning
    // every element the shape and strides reach; the runner keeps it alive across each call.
    unsafe { TensorViewMut::from_raw_parts(ptr as *mut c_void, device, dtype, shape, strides) }
        .expect("shapes were checked when the case was read")
}

impl<'c> Tensor<'c> {
    fn new(spec: &Value) -> Result<Tensor<'c>, String> {
        let name = spec.str_at("name").ok_or("a tensor without \"name\"")?.to_string();
        let mut t = Tensor {
            name,
            alias: None,
            alias_name: spec.str_at("alias").map(str::to_string),
            role: Role::Input,
            dtype: DType::U8,
            shape: vec![],
            strides: vec![],
            has_strides: false,
            storage_elems: 0,
            elem_size: 1,
            bytes: 0,
            host: HostBuf::new(0),
            dev: None,
        };
        if t.alias_name.is_some() {
            return Ok(t);
        }
        let n = t.name.clone();
        t.role = match spec.str_at("role") {
            Some("input") => Role::Input,
            Some("output") => Role::Output,
            Some("inout") => Role::InOut,
            _ => return Err(format!("tensor {n}: role must be input, output or inout")),
        };
        t.dtype = dtype_from_name(spec.str_at("dtype")).ok_or(format!("tensor {n}: unknown dtype"))?;
        t.shape = dims(spec.get("shape"), &format!("tensor {n}"))?;
        if t.shape.iter().any(|&e| e < 0) {
            return Err(format!("tensor {n}: negative extent"));
        }
        t.has_strides = spec.get("strides").is_some();
        t.strides = if t.has_strides {
            dims(spec.get("strides"), &format!("tensor {n}"))?
        } else {
            compact_strides(&t.shape)
        };
        if t.strides.len() != t.shape.len() {
            return Err(format!("tensor {n}: strides rank differs from shape"));
        }
        let numel = t
            .shape
            .iter()
            .try_fold(1i64, |a, &e| a.checked_mul(e))
            .filter(|&x| x <= MAX_STORAGE_ELEMS);
        t.storage_elems = span_elems(&t.shape, &t.strides)
            .filter(|_| numel.is_some())
            .ok_or(format!("tensor {n}: negative strides, or over 2^31 elements"))?;
        t.elem_size = t.dtype.size_bytes().unwrap_or(1);
        t.bytes = t.storage_elems as usize * t.elem_size;
        t.host = HostBuf::new(t.bytes);
        Ok(t)
    }

    fn strides_arg(&self) -> Option<&[i64]> {
        self.has_strides.then_some(&self.strides[..])
    }

    /// The host tensor (compact when the case gives no strides).
    pub fn host_view(&self) -> TensorViewMut<'_> {
        raw_view(
            self.host.ptr(),
            Device::Cpu,
            self.dtype,
            &self.shape,
            self.strides_arg(),
        )
    }

    /// A 1-D view of the host storage: elements 0, step, 2·step, ... (`count` of them).
    pub fn storage_sample(&self, count: i64, step: i64) -> TensorViewMut<'_> {
        raw_view(self.host.ptr(), Device::Cpu, self.dtype, &[count], Some(&[step]))
    }

    fn device_view(&self, device: Device) -> TensorViewMut<'_> {
        let ptr = match &self.dev {
            Some(Dev::Buffer(b)) => b.as_ptr() as *mut u8,
            Some(Dev::Mirror(h)) => h.ptr(),
            _ => std::ptr::null_mut(),
        };
        raw_view(ptr, device, self.dtype, &self.shape, self.strides_arg())
    }

    /// Storage elements [start, end) still all poison?
    pub fn untouched(&self, start: i64, end: i64) -> bool {
        let (s, e) = (start.max(0), end.min(self.storage_elems));
        e <= s
            || self
                .host
                .bytes(s as usize * self.elem_size, (e - s) as usize * self.elem_size)
                .iter()
                .all(|&b| b == POISON)
    }

    /// Storage index of every element, in row-major logical order.
    pub fn storage_indices(&self) -> Vec<i64> {
        let mut idx = vec![0i64];
        for (&e, &s) in self.shape.iter().zip(&self.strides) {
            idx = idx.iter().flat_map(|&b| (0..e).map(move |i| b + i * s)).collect();
        }
        idx
    }

    fn build(&mut self, cpu: &Context, spec: &Value) -> Result<(), String> {
        let n = self.name.clone();
        if self.role == Role::Output {
            // SAFETY: the storage holds `bytes` bytes; the gaps between strided rows too.
            unsafe { std::ptr::write_bytes(self.host.ptr(), POISON, self.bytes) };
            // Exercised, same bytes.
            return cpu.poison(&mut self.host_view(), POISON).map_err(|e| {
                format!(
                    "tensor {n}: dlg_testing_poison -> {}: {}",
                    e.status().name(),
                    e.message()
                )
            });
        }
        let (fill, values, parts) = (spec.get("fill"), spec.get("values"), spec.get("parts"));
        if fill.is_some() as u8 + values.is_some() as u8 + parts.is_some() as u8 > 1 {
            return Err(format!("tensor {n}: give one of fill, values, parts"));
        }
        if fill.is_some() {
            return fill_view(&mut self.host_view(), fill, &n);
        }
        if let Some(v) = values {
            return self.set_values(v);
        }
        if let Some(p) = parts {
            return self.fill_parts(p);
        }
        Ok(())
    }

    fn set_values(&mut self, values: &Value) -> Result<(), String> {
        let n = &self.name;
        let numel: i64 = self.shape.iter().product();
        let vals = values.as_arr().filter(|a| a.len() as i64 == numel);
        let vals = vals.ok_or(format!("tensor {n}: \"values\" needs {numel} entries"))?;
        if self.has_strides {
            return Err(format!("tensor {n}: \"values\" needs a compact tensor"));
        }
        let bytes =
            value_bytes(self.dtype, vals).ok_or(format!("tensor {n}: \"values\" only for int32, uint8, float32"))?;
        // SAFETY: a compact tensor of numel elements: exactly `bytes.len()` bytes of storage.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.host.ptr(), bytes.len()) };
        Ok(())
    }

    fn fill_parts(&mut self, parts: &Value) -> Result<(), String> {
        let parts = parts
            .as_arr()
            .ok_or(format!("tensor {}: \"parts\" must be a list", self.name))?;
        for (i, p) in parts.iter().enumerate() {
            let what = format!("tensor {} part {i}", self.name);
            let dtype = dtype_from_name(p.str_at("dtype")).ok_or(format!("{what}: bad dtype or shape"))?;
            let shape = dims(p.get("shape"), &what)?;
            let strides = if p.get("strides").is_some() {
                dims(p.get("strides"), &what)?
            } else {
                compact_strides(&shape)
            };
            if strides.len() != shape.len() {
                return Err(format!("{what}: strides rank differs from shape"));
            }
            let offset = p.num_at("byte_offset", 0.0) as i64;
            let size = dtype.size_bytes().unwrap_or(1) as i64;
            match span_elems(&shape, &strides) {
                Some(span) if offset >= 0 && offset + span * size <= self.bytes as i64 => {}
                _ => return Err(format!("{what}: outside the storage")),
            }
            // SAFETY: the part lies inside the storage (checked above).
            let ptr = unsafe { self.host.ptr().add(offset as usize) };
            fill_view(
                &mut raw_view(ptr, Device::Cpu, dtype, &shape, Some(&strides)),
                p.get("fill"),
                &what,
            )?;
        }
        Ok(())
    }
}

/// Little-endian storage of a value list ("inf" / "-inf" / "nan" strings allowed): the
/// dtype's own for int32 / uint8, else float32. None for other dtypes.
pub fn value_bytes(dtype: DType, values: &[Value]) -> Option<Vec<u8>> {
    let num = |v: &Value| match v {
        Value::Str(s) if s == "inf" => f64::INFINITY,
        Value::Str(s) if s == "-inf" => f64::NEG_INFINITY,
        Value::Str(_) => f64::NAN,
        v => v.as_f64().unwrap_or(0.0),
    };
    let mut out = Vec::with_capacity(values.len() * 4);
    for v in values.iter().map(num) {
        match dtype {
            DType::I32 => out.extend_from_slice(&(v as i64 as i32).to_le_bytes()),
            DType::U8 => out.push(v as i64 as u8),
            DType::F32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
            _ => return None,
        }
    }
    Some(out)
}

/// The tensors of one case.
pub struct Set<'c> {
    pub t: Vec<Tensor<'c>>,
    device: Device,
    owner: Option<&'c Context>,
}

impl<'c> Set<'c> {
    /// Builds the host tensors of a case (filled / poisoned) with `cpu`, a CPU context.
    pub fn build(cpu: &Context, case: &Value) -> Result<Set<'c>, String> {
        let specs = match case.get("tensors") {
            None => &[][..],
            Some(v) => v
                .as_arr()
                .filter(|a| a.len() <= 16)
                .ok_or("\"tensors\" must be a list of at most 16")?,
        };
        let mut set = Set {
            t: specs.iter().map(Tensor::new).collect::<Result<_, _>>()?,
            device: Device::Cpu,
            owner: None,
        };
        for (t, spec) in set.t.iter_mut().zip(specs) {
            if t.alias_name.is_none() {
                t.build(cpu, spec)?;
            }
        }
        for i in 0..set.t.len() {
            if let Some(target) = set.t[i].alias_name.clone() {
                let j = (0..set.t.len()).find(|&j| j != i && set.t[j].alias_name.is_none() && set.t[j].name == target);
                set.t[i].alias = Some(j.ok_or(format!("tensor {}: alias '{target}' names no tensor", set.t[i].name))?);
            }
        }
        Ok(set)
    }

    pub fn find(&self, name: &str) -> Option<&Tensor<'c>> {
        self.t.iter().find(|t| t.name == name)
    }

    /// Tensors with storage of their own (not aliases).
    pub fn own(&self) -> impl Iterator<Item = &Tensor<'c>> {
        self.t.iter().filter(|t| t.alias_name.is_none())
    }

    /// Index of the tensor passed for argument `name` (alias resolved).
    pub fn resolve(&self, name: &str) -> Option<usize> {
        let i = self.t.iter().position(|t| t.name == name)?;
        Some(self.t[i].alias.unwrap_or(i))
    }

    /// The view the op gets for argument `name` (host, or device once copied there).
    pub fn arg(&self, name: &str) -> Option<TensorViewMut<'_>> {
        let t = &self.t[self.resolve(name)?];
        Some(if t.dev.is_some() {
            t.device_view(self.device)
        } else {
            t.host_view()
        })
    }

    /// Copies every tensor into memory of `ctx`'s device, or fresh host memory (`mirror`:
    /// the device path without a GPU).
    pub fn upload(&mut self, ctx: &'c Context, mirror: bool) -> Result<(), String> {
        self.device = if mirror { Device::Cpu } else { ctx.device() };
        self.owner = Some(ctx);
        for t in self.t.iter_mut().filter(|t| t.alias_name.is_none()) {
            t.dev = Some(match (t.bytes, mirror) {
                (0, _) => Dev::Empty,
                (b, true) => Dev::Mirror(HostBuf::new(b)),
                (b, false) => Dev::Buffer(ctx.device_alloc(b).map_err(|e| {
                    format!(
                        "tensor {}: dlg_device_alloc({b}) -> {}: {}",
                        t.name,
                        e.status().name(),
                        e.message()
                    )
                })?),
            });
            if t.bytes > 0 {
                ctx.tensor_copy(&t.host_view().as_view(), &mut t.device_view(self.device))
                    .map_err(|e| {
                        format!(
                            "tensor {}: copy to device -> {}: {}",
                            t.name,
                            e.status().name(),
                            e.message()
                        )
                    })?;
            }
        }
        Ok(())
    }

    /// Copies outputs and inouts back into the host storage.
    pub fn download(&self) -> Result<(), String> {
        let ctx = self.owner.expect("upload first");
        for t in self
            .own()
            .filter(|t| t.dev.is_some() && t.role != Role::Input && t.bytes > 0)
        {
            ctx.tensor_copy(&t.device_view(self.device).as_view(), &mut t.host_view())
                .map_err(|e| {
                    format!(
                        "tensor {}: copy to host -> {}: {}",
                        t.name,
                        e.status().name(),
                        e.message()
                    )
                })?;
        }
        Ok(())
    }
}
