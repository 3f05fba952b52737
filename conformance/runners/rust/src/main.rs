//! The Rust conformance runner (conformance/README.md has the contract; runners/c/runner.c is
//! the reference implementation this follows step by step).
//!
//!   dlg_conformance_rust --cases DIR --device cpu|cuda --out RESULTS.json [--filter S]
//!                        [--expected DIR] [-v]
//!                        [--mirror]  (self-test: the cuda path with host memory as the "device")
//!
//! Every case runs twice through the `dlgemm` crate: the reference on CPU tensors, and the
//! result on the requested device (CPU again, or `Context::device_alloc` memory).

mod json;
mod ops;
mod tensors;

use dlgemm::testing::{calc_diff, count_mismatch};
use dlgemm::{Context, DType, DeviceInfo, Status, TensorView, TensorViewMut};
use json::Value;
use tensors::{value_bytes, HostBuf, Role, Set, Tensor};

struct Options {
    cases: String,
    device: String,
    out: Option<String>,
    filter: Option<String>,
    expected: String,
    mirror: bool,
    verbose: bool,
}

struct Env {
    cpu: Context,
    gpu: Option<Context>,
    on_cuda: bool,
    mirror: bool,
    gpu_why: String,
    info: Option<DeviceInfo>,
    num_sms: i32,
    name: String,
}

/// The judgement of one case: status ("pass" / "fail" / "not-run"), reason, largest metric.
struct Verdict {
    status: &'static str,
    reason: String,
    metric: Option<f64>,
}

impl Verdict {
    fn note(&mut self, v: f64) {
        if self.metric.is_none() || self.metric.is_some_and(|m| v > m) || v.is_nan() {
            self.metric = Some(v);
        }
    }
}

/// Ends the judging of a case with a reason ("fail" unless set otherwise).
type Judged<T> = Result<T, (&'static str, String)>;

fn fail<T>(reason: impl Into<String>) -> Judged<T> {
    Err(("fail", reason.into()))
}

fn status_name(code: u32) -> &'static str {
    Status::from_raw(code).name()
}

fn status_from_name(name: &str) -> Option<u32> {
    if name == "ok" {
        return Some(sys_ok());
    }
    (0..64).find(|&s| status_name(s) == name)
}

fn sys_ok() -> u32 {
    Status::Ok.to_raw()
}

fn expected_status(case: &Value, kind: &str) -> Option<u32> {
    match case.get("expect") {
        None => Some(sys_ok()),
        Some(Value::Str(s)) => status_from_name(s),
        Some(o @ Value::Obj(_)) => o.str_at(kind).map_or(Some(sys_ok()), status_from_name),
        _ => None,
    }
}

// -- comparisons ---------------------------------------------------------------------------

fn compare(
    v: &mut Verdict,
    tname: &str,
    what: &str,
    metric: &str,
    tol: f64,
    x: &TensorView<'_>,
    y: &TensorView<'_>,
) -> Judged<()> {
    match metric {
        "calc_diff" => {
            let diff = calc_diff(x, y).or_else(|e| {
                fail(format!(
                    "{tname}: calc_diff({what}) -> {}: {}",
                    e.status().name(),
                    e.message()
                ))
            })?;
            v.note(diff);
            if diff > tol || diff.is_nan() {
                return fail(format!("{tname}: calc_diff({what}) = {} > tol {}", g3(diff), g3(tol)));
            }
        }
        "exact" => {
            let n = count_mismatch(x, y).or_else(|e| {
                fail(format!(
                    "{tname}: count_mismatch({what}) -> {}: {}",
                    e.status().name(),
                    e.message()
                ))
            })?;
            v.note(n as f64);
            if n != 0 {
                return fail(format!("{tname}: {n} elements differ ({what})"));
            }
        }
        _ => return fail(format!("{tname}: unknown metric '{metric}'")),
    }
    Ok(())
}

/// printf's %.3g (reasons read the same as the C runner's).
fn g3(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let sci = format!("{x:.2e}"); // rounded to 3 significant digits: "7.69e-2"
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |t: String| {
        if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            t
        }
    };
    if !(-4..3).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mant.to_string()), exp.abs())
    } else {
        trim(format!("{x:.*}", (2 - exp) as usize))
    }
}

fn ranges_of(untouched: Option<&Value>, tname: &str) -> Judged<Vec<(i64, i64)>> {
    let mut out = vec![];
    for rg in untouched.and_then(Value::as_arr).unwrap_or(&[]) {
        match rg.as_arr() {
            Some([s, e]) => out.push((s.as_f64().unwrap_or(0.0) as i64, e.as_f64().unwrap_or(0.0) as i64)),
            _ => return fail(format!("{tname}: untouched ranges must be [start, end] pairs")),
        }
    }
    Ok(out)
}

fn check_untouched(t: &Tensor<'_>, ranges: &[(i64, i64)], run: &str) -> Judged<()> {
    for &(s, e) in ranges {
        if !t.untouched(s, e) {
            return fail(format!(
                "{}: {run} wrote storage elements in [{s}, {e}), which must stay untouched",
                t.name
            ));
        }
    }
    Ok(())
}

/// An output must not still hold the poison outside `untouched` (else a no-op passes); 8-bit
/// outputs may match it by chance (e4m3 -0.203): up to 1/8 of them.
fn check_written(t: &Tensor<'_>, ranges: &[(i64, i64)], run: &str) -> Judged<()> {
    if t.role != Role::Output {
        return Ok(());
    }
    let (mut considered, mut poisoned) = (0i64, 0i64);
    for e in t.storage_indices() {
        if ranges.iter().any(|&(s, end)| e >= s && e < end) {
            continue;
        }
        considered += 1;
        poisoned += t.untouched(e, e + 1) as i64;
    }
    let allowed = if t.elem_size == 1 { considered / 8 } else { 0 };
    if poisoned > allowed {
        return fail(format!(
            "{}: {run} left {poisoned} of {considered} elements unwritten (still poison)",
            t.name
        ));
    }
    Ok(())
}

/// The reference output's storage sample against the stored values.
fn compare_expected(v: &mut Verdict, tf: &Tensor<'_>, metric: &str, tol: f64, stored: &Value) -> Judged<()> {
    let step = stored.num_at("step", 0.0) as i64;
    let count = if step > 0 {
        (tf.storage_elems + step - 1) / step
    } else {
        0
    };
    let integer = matches!(tf.dtype, DType::I32 | DType::U8);
    let dtype = if integer { tf.dtype } else { DType::F32 };
    let values = stored
        .get("values")
        .and_then(Value::as_arr)
        .filter(|a| step >= 1 && a.len() as i64 == count);
    let Some(bytes) = values.and_then(|a| value_bytes(dtype, a)) else {
        return fail(format!(
            "{}: the expected file's sample does not fit the tensor",
            tf.name
        ));
    };
    let want_buf = HostBuf::new(bytes.len());
    // SAFETY: the buffer holds `bytes.len()` bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), want_buf.ptr(), bytes.len()) };
    // SAFETY: a compact tensor of `count` elements of `dtype` over the buffer.
    let want =
        unsafe { TensorViewMut::from_raw_parts(want_buf.ptr().cast(), dlgemm::Device::Cpu, dtype, &[count], None) }
            .or_else(|e| fail(e.message().to_string()))?;
    let have = tf.storage_sample(count, step);
    let what = "cpu reference vs stored expected";
    // Stored float values are f32: an exact check of a bf16/fp8 output is calc_diff == 0.
    if integer || metric != "exact" {
        compare(v, &tf.name, what, metric, tol, &have.as_view(), &want.as_view())
    } else {
        compare(v, &tf.name, what, "calc_diff", 0.0, &have.as_view(), &want.as_view())
    }
}

fn judge_outputs(o: &Options, case: &Value, name: &str, res: &Set<'_>, rf: &Set<'_>, v: &mut Verdict) -> Judged<()> {
    let check = case.get("check");
    let checks: &[(String, Value)] = match check {
        Some(Value::Obj(m)) => m,
        _ => &[],
    };
    for t in res.own() {
        if t.role != Role::Input && check.and_then(|c| c.get(&t.name)).is_none() {
            return fail(format!("case: output {} has no check entry", t.name));
        }
    }
    let path = format!("{}/{name}.json", o.expected);
    let expected = match std::fs::read_to_string(&path) {
        Err(_) => None,
        Ok(text) => Some(json::parse(&text).or_else(|e| fail(format!("expected file {path}: {e}")))?),
    };
    let outputs = expected.as_ref().and_then(|e| e.get("outputs"));
    for (tname, spec) in checks {
        let (tr, tf) = match (res.find(tname), rf.find(tname)) {
            (Some(tr), Some(tf)) if tr.alias.is_none() => (tr, tf),
            _ => return fail(format!("case: check names '{tname}', not a tensor of the case")),
        };
        let Some(metric) = spec.str_at("metric") else {
            return fail(format!("case: check of {tname} has no metric"));
        };
        let tol = spec.num_at("tol", 0.0);
        let ranges = ranges_of(spec.get("untouched"), tname)?;
        check_untouched(tr, &ranges, "the run")?;
        check_untouched(tf, &ranges, "the cpu reference")?;
        check_written(tr, &ranges, "the run")?;
        check_written(tf, &ranges, "the cpu reference")?;
        compare(
            v,
            tname,
            "result vs cpu reference",
            metric,
            tol,
            &tr.host_view().as_view(),
            &tf.host_view().as_view(),
        )?;
        if let Some(stored) = outputs.and_then(|out| out.get(tname)) {
            compare_expected(v, tf, metric, tol, stored)?;
        }
    }
    Ok(())
}

// -- running one case ----------------------------------------------------------------------

/// Runs the op on the result set, on the device for cuda runs: (status, message).
fn run_result<'c>(env: &'c Env, case: &Value, res: &mut Set<'c>, expect_ok: bool) -> Judged<(u32, String)> {
    let Some(gpu) = env.gpu.as_ref().filter(|_| env.on_cuda) else {
        return Ok(ops::run_op(&env.cpu, case, res, None));
    };
    res.upload(gpu, env.mirror).or_else(fail)?;
    let mut meta_host = None;
    let mut meta_dev = None;
    let mut meta = None;
    if case.str_at("op") == Some("paged_mqa_logits") {
        // The schedule is device-specific, so it is not in the case: derive it here.
        let rows = dlgemm::paged_mqa_logits_metadata_rows(env.num_sms);
        let block_kv = res
            .find("kv_cache")
            .filter(|t| t.shape.len() >= 2)
            .map_or(0, |t| t.shape[1] as i32);
        let shape = [rows, 2];
        let made = if env.mirror {
            let buf = meta_host.insert(HostBuf::new(rows as usize * 8));
            // SAFETY: the buffer holds rows·2 int32 and outlives the view.
            unsafe { TensorViewMut::from_raw_parts(buf.ptr().cast(), dlgemm::Device::Cpu, DType::I32, &shape, None) }
        } else {
            gpu.device_alloc(rows as usize * 8)
                .and_then(|b| meta_dev.insert(b).view_mut(DType::I32, &shape, None))
        };
        let lens = res.arg("context_lens").map(TensorView::from);
        let outcome = made.and_then(|mut m| match &lens {
            Some(l) => gpu
                .paged_mqa_logits_metadata(l, block_kv, env.num_sms, &mut m, dlgemm::Stream::DEFAULT)
                .map(|_| m),
            None => Err(dlgemm::Error::new(Status::InvalidArgument, "context_lens: missing")),
        });
        match outcome {
            Ok(m) => meta = Some(m),
            Err(e) if expect_ok => {
                let status = if e.status() == Status::Unsupported {
                    "not-run"
                } else {
                    "fail"
                };
                let why = if status == "not-run" {
                    "no kernel: schedule metadata".to_string()
                } else {
                    format!("schedule metadata -> {}", e.status().name())
                };
                return Err((status, format!("{why}: {}", e.message())));
            }
            Err(_) => {}
        }
    }
    let meta_view = meta.as_ref().map(|m| m.as_view());
    let out = ops::run_op(gpu, case, res, meta_view.as_ref());
    gpu.stream_synchronize(dlgemm::Stream::DEFAULT).or_else(|e| {
        fail(format!(
            "stream synchronize after the op -> {}: {}",
            e.status().name(),
            e.message()
        ))
    })?;
    res.download().or_else(fail)?;
    Ok(out)
}

fn run_case(o: &Options, env: &Env, path: &str, name: &str, v: &mut Verdict) -> Judged<String> {
    let text = std::fs::read_to_string(path).or_else(|e| fail(format!("case file: {e}")))?;
    let case = json::parse(&text).or_else(|e| fail(format!("case file: {e}")))?;
    let op = case.str_at("op").unwrap_or("");
    let kind = if env.on_cuda && !env.mirror { "cuda" } else { "cpu" };
    if case.str_at("name") != Some(name) {
        return fail("case: \"name\" must equal the file name");
    }
    if !ops::known(op) {
        return fail(format!(
            "case: unknown op '{}'",
            if op.is_empty() { "(none)" } else { op }
        ));
    }
    if ops::is_query(op) {
        let Some(want) = case.get("check").and_then(|c| c.get("result")) else {
            return fail("case: query needs check.result");
        };
        let got = ops::run_query(&case);
        if let Some(eq) = want.get("equals").and_then(Value::as_f64) {
            if got != eq as i64 {
                return fail(format!("{op} returned {got}, want {}", eq as i64));
            }
        } else if let Some(min) = want.get("min").and_then(Value::as_f64) {
            if got < min as i64 {
                return fail(format!("{op} returned {got}, want >= {}", min as i64));
            }
        }
        return Ok(String::new());
    }
    if let Some(devs) = case.get("devices").and_then(Value::as_arr) {
        if !devs.iter().any(|d| d.as_str() == Some(kind)) {
            return Err((
                "not-run",
                case.str_at("devices_reason")
                    .unwrap_or("case excludes this device")
                    .to_string(),
            ));
        }
    }
    if env.on_cuda && env.gpu.is_none() {
        return Err(("not-run", format!("no CUDA device: {}", env.gpu_why)));
    }
    let (Some(want_cpu), Some(want_dev)) = (expected_status(&case, "cpu"), expected_status(&case, kind)) else {
        return fail("case: unknown status name in \"expect\"");
    };
    let ok = sys_ok();
    // Reference: CPU tensors, CPU context. Result: a second identical set on the device.
    let rf = Set::build(&env.cpu, &case).or_else(fail)?;
    let (ref_st, ref_msg) = ops::run_op(&env.cpu, &case, &rf, None);
    let mut res = Set::build(&env.cpu, &case).or_else(fail)?;
    let (res_st, res_msg) = run_result(env, &case, &mut res, want_dev == ok)?;
    if ref_st != want_cpu {
        return fail(format!(
            "cpu reference returned {} ({ref_msg}), want {}",
            status_name(ref_st),
            status_name(want_cpu)
        ));
    }
    if ref_st != ok && ref_msg.is_empty() {
        return fail(format!(
            "cpu reference returned {} with an empty dlg_last_error()",
            status_name(ref_st)
        ));
    }
    if env.on_cuda && !env.mirror && want_dev == ok && res_st == Status::Unsupported.to_raw() {
        return Err(("not-run", format!("no kernel: {res_msg}")));
    }
    if res_st != want_dev {
        return fail(format!(
            "returned {} ({res_msg}), want {}",
            status_name(res_st),
            status_name(want_dev)
        ));
    }
    if res_st != ok && res_msg.is_empty() {
        return fail(format!(
            "returned {} with an empty dlg_last_error()",
            status_name(res_st)
        ));
    }
    if res_st != ok {
        // A failing call must not have written any output (the reference too, unless only the
        // device failed).
        for t in res.own().filter(|t| t.role == Role::Output) {
            let ref_written = ref_st != ok && rf.find(&t.name).is_some_and(|r| !r.untouched(0, r.storage_elems));
            if !t.untouched(0, t.storage_elems) || ref_written {
                return fail(format!(
                    "{} was written although the call returned {}",
                    t.name,
                    status_name(res_st)
                ));
            }
        }
        return Ok(format!("{}: {res_msg}", status_name(res_st)));
    }
    judge_outputs(o, &case, name, &res, &rf, v)?;
    Ok(String::new())
}

// -- driver --------------------------------------------------------------------------------

fn write_results(o: &Options, env: &Env, results: &[(String, Verdict)]) -> std::io::Result<()> {
    let (device, arch, dname) = match (&env.info, env.on_cuda, env.mirror) {
        (_, false, _) => ("cpu".into(), "host".into(), "cpu".into()),
        (_, true, true) => ("cpu-mirror".into(), "host".into(), env.name.clone()),
        (None, true, false) => ("cuda".into(), "none".into(), "cpu".into()),
        (Some(i), true, false) => (
            format!("sm{}{}", i.sm_major, i.sm_minor),
            format!("sm_{}{}", i.sm_major, i.sm_minor),
            i.name.clone(),
        ),
    };
    let mut s = format!(
        "{{\"runner\": \"rust\", \"device\": {}, \"arch\": {}, \"device_name\": {}, \"library_version\": {},\n \"results\": [",
        json::quote(&device),
        json::quote(&arch),
        json::quote(&dname),
        json::quote(dlgemm::version_string())
    );
    for (i, (name, v)) in results.iter().enumerate() {
        // printf's %.6g precision, written back as the shortest round-trip number.
        let metric = v.metric.filter(|m| m.is_finite()).map_or("null".to_string(), |m| {
            format!("{:?}", format!("{m:.5e}").parse::<f64>().unwrap_or(m))
        });
        s += &format!(
            "{}\n  {{\"case\": {}, \"status\": \"{}\", \"reason\": {}, \"metric\": {metric}}}",
            if i > 0 { "," } else { "" },
            json::quote(name),
            v.status,
            json::quote(&v.reason)
        );
    }
    s += "\n]}\n";
    std::fs::write(o.out.as_deref().unwrap_or("/dev/null"), s)
}

fn usage() -> ! {
    eprintln!(
        "usage: dlg_conformance_rust --cases DIR --device cpu|cuda --out RESULTS.json\n       [--filter SUBSTRING] [--expected DIR] [-v]\n       [--mirror]  (self-test: the --device cuda path on host memory)"
    );
    std::process::exit(2)
}

fn parse_args() -> Options {
    let mut o = Options {
        cases: String::new(),
        device: "cpu".into(),
        out: None,
        filter: None,
        expected: String::new(),
        mirror: false,
        verbose: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-v" => o.verbose = true,
            "--mirror" => o.mirror = true,
            _ => {
                let next = args.next().unwrap_or_else(|| usage());
                match a.as_str() {
                    "--cases" => o.cases = next,
                    "--device" => o.device = next,
                    "--out" => o.out = Some(next),
                    "--filter" => o.filter = Some(next),
                    "--expected" => o.expected = next,
                    _ => usage(),
                }
            }
        }
    }
    if o.cases.is_empty() || (o.device != "cpu" && o.device != "cuda") {
        usage();
    }
    if o.expected.is_empty() {
        o.expected = format!("{}/../expected", o.cases);
    }
    o
}

fn main() {
    let o = parse_args();
    let cpu = Context::cpu().unwrap_or_else(|e| {
        eprintln!("dlg_context_create(-1): {e}");
        std::process::exit(2)
    });
    let on_cuda = o.device == "cuda" || o.mirror;
    let mut env = Env {
        cpu,
        gpu: None,
        on_cuda,
        mirror: o.mirror,
        gpu_why: String::new(),
        info: None,
        num_sms: 0,
        name: String::new(),
    };
    if o.mirror {
        // The device path with host memory: a CPU context, 8 "SMs" for the schedule metadata.
        env.gpu = Context::cpu().ok();
        env.num_sms = 8;
        env.name = "host mirror".into();
    } else if on_cuda {
        match Context::new(0).and_then(|c| c.device_info().map(|i| (c, i))) {
            Ok((c, i)) => {
                eprintln!(
                    "device: {} (sm_{}{}, {} SMs)",
                    i.name, i.sm_major, i.sm_minor, i.num_sms
                );
                env.num_sms = i.num_sms;
                env.name = i.name.clone();
                env.gpu = Some(c);
                env.info = Some(i);
            }
            Err(e) => env.gpu_why = format!("{}: {}", e.status().name(), e.message()),
        }
    }
    let mut names: Vec<String> = match std::fs::read_dir(&o.cases) {
        Ok(d) => d
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|f| f.len() > 5 && f.ends_with(".json"))
            .map(|f| f[..f.len() - 5].to_string())
            .collect(),
        Err(e) => {
            eprintln!("cannot read {}: {e}", o.cases);
            std::process::exit(2)
        }
    };
    names.sort();
    let mut results = vec![];
    let (mut passed, mut failed, mut not_run) = (0, 0, 0);
    for name in names.into_iter().filter(|n| match &o.filter {
        Some(f) => n.contains(f.as_str()),
        None => true,
    }) {
        let mut v = Verdict {
            status: "pass",
            reason: String::new(),
            metric: None,
        };
        let path = format!("{}/{name}.json", o.cases);
        match run_case(&o, &env, &path, &name, &mut v) {
            Ok(reason) => v.reason = reason,
            Err((status, reason)) => (v.status, v.reason) = (status, reason),
        }
        match v.status {
            "pass" => passed += 1,
            "fail" => failed += 1,
            _ => not_run += 1,
        }
        if o.verbose || v.status != "pass" {
            println!(
                "{:<8} {name}{}{}",
                v.status,
                if v.reason.is_empty() { "" } else { ": " },
                v.reason
            );
        }
        results.push((name, v));
    }
    let mode = if o.mirror {
        "cuda path, host mirror"
    } else {
        o.device.as_str()
    };
    println!("rust runner ({mode}): {passed} passed, {failed} failed, {not_run} not-run");
    let mut rc = if failed > 0 { 1 } else { 0 };
    if o.out.is_some() {
        if let Err(e) = write_results(&o, &env, &results) {
            eprintln!("cannot write {}: {e}", o.out.as_deref().unwrap_or(""));
            rc = 2;
        }
    }
    std::process::exit(rc)
}
