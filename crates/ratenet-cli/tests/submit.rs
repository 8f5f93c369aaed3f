//! `ratenet submit`: the scripts of `--dry-run` (no sbatch, no data), and a
//! submission through a stand-in `sbatch` that records its command lines.
//! The real thing runs on a real Slurm in `.ci/slurm-test.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ratenet");

fn example() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/ex2_sweep.toml"))
        .canonicalize()
        .unwrap()
}

/// `ratenet ARGS` in `dir` with `PATH` = `path` only.
fn ratenet(dir: &Path, path: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn dry_run_prints_both_scripts_and_commands_without_sbatch_or_data() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("no-bin");
    std::fs::create_dir(&empty).unwrap();
    let spec = example();
    let o = ratenet(
        tmp.path(),
        &empty,
        &[
            "submit",
            spec.to_str().unwrap(),
            "--tasks",
            "4",
            "--cpus-per-task",
            "2",
            "--time",
            "00:20:00",
            "--partition",
            "short",
            "--sbatch-arg=--mem=4G",
            // Tables that do not exist: submit reads none.
            "--set",
            "data.cells=/nowhere/my cells.feather",
            "--set",
            "data.synapses=/nowhere/it's.feather",
            "--out",
            "res",
            "--dry-run",
        ],
    );
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let wd = tmp.path().canonicalize().unwrap();
    let res = wd.join("res");
    let exe = Path::new(BIN).canonicalize().unwrap();
    for line in [
        "#!/bin/bash".to_string(),
        "#SBATCH --array=0-3".into(),
        "#SBATCH --cpus-per-task=2".into(),
        "#SBATCH --time=00:20:00".into(),
        "#SBATCH --partition=short".into(),
        "#SBATCH --mem=4G".into(),
        format!("#SBATCH --chdir={}", wd.display()),
        format!("#SBATCH --output={}/slurm/%x_%A_%a.out", res.display()),
        format!(
            "exec {} run {} --set 'data.cells=/nowhere/my cells.feather' --set 'data.synapses=/nowhere/it'\\''s.feather' --out {} --shard slurm --threads \"$SLURM_CPUS_PER_TASK\" --quiet",
            exe.display(),
            spec.display(),
            res.display()
        ),
        format!("exec {} merge {}", exe.display(), res.display()),
        format!("sbatch --parsable {}/slurm/array.sbatch", res.display()),
        format!(
            "sbatch --parsable --dependency=afterok:<array job id> {}/slurm/merge.sbatch",
            res.display()
        ),
    ] {
        assert!(out.lines().any(|l| l == line), "no line {line:?} in\n{out}");
    }
    // Nothing written.
    assert!(!res.exists());

    // More tasks than EX2's 50 runs: cut to 50, and said so.
    let o = ratenet(
        tmp.path(),
        &empty,
        &["submit", spec.to_str().unwrap(), "--tasks", "64", "--dry-run"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).lines().any(|l| l == "#SBATCH --array=0-49"));
    assert!(text(&o.stderr).contains("--tasks 64 but the experiment has 50 runs"));

    // The file is checked: an unknown key, a range.
    for (set, culprit) in [("network.gg=1", "gg"), ("simulation.dt=0", "dt")] {
        let o = ratenet(
            tmp.path(),
            &empty,
            &["submit", spec.to_str().unwrap(), "--set", set, "--dry-run"],
        );
        assert_eq!(o.status.code(), Some(2));
        let e = text(&o.stderr);
        assert!(
            e.starts_with("ratenet: ") && e.contains(culprit) && e.lines().count() == 1,
            "{e}"
        );
    }
}

#[test]
fn submit_runs_sbatch_for_the_array_then_the_merge_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = example();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = tmp.path().join("sbatch.log");
    // A stand-in sbatch: logs its arguments, answers 41;cluster then 42.
    let fake = format!(
        "#!/bin/sh\necho \"$*\" >> '{log}'\nif [ \"$(wc -l < '{log}')\" -eq 1 ]; then echo '41;cluster'; else echo 42; fi\n",
        log = log.display()
    );
    let sbatch = bin.join("sbatch");
    std::fs::write(&sbatch, fake).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sbatch, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let o = ratenet(
        tmp.path(),
        Path::new(&path),
        &["submit", spec.to_str().unwrap(), "--tasks", "3", "--out", "r"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let res = tmp.path().canonicalize().unwrap().join("r");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls,
        format!(
            "--parsable {r}/slurm/array.sbatch\n--parsable --dependency=afterok:41 {r}/slurm/merge.sbatch\n",
            r = res.display()
        )
    );
    let out = text(&o.stdout);
    assert!(out.contains("array job 41") && out.contains("merge job 42"), "{out}");
    assert!(out.contains(&res.display().to_string()), "{out}");
    let array = std::fs::read_to_string(res.join("slurm/array.sbatch")).unwrap();
    assert!(array.lines().any(|l| l == "#SBATCH --array=0-2"));
    assert!(res.join("slurm/merge.sbatch").is_file());

    // No sbatch at all: one line saying so.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = ratenet(tmp.path(), &empty, &["submit", spec.to_str().unwrap(), "--out", "r2"]);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(e.contains("cannot run sbatch") && e.contains("--dry-run"), "{e}");
}
