//! Sweeps on a Slurm cluster: the two sbatch scripts of `ratenet submit`.
//!
//! A [`Submission`] is a job array of N tasks, task `k` running shard `k` of
//! N (`ratenet run SPEC … --shard slurm`), and a merge job
//! (`ratenet merge OUT`) submitted with `--dependency=afterok:<array job>`,
//! so that it runs once every task has succeeded. A failed task leaves the
//! merge job pending; `ratenet merge OUT` by hand then names the missing
//! runs.
//!
//! Building a submission reads the experiment file and checks it (keys,
//! ranges, number of runs) but reads no table; the script texts and command
//! lines are pure functions of it. Only [`Submission::submit`] writes files
//! and runs `sbatch`.

use std::path::{Path, PathBuf};

use crate::experiment::{Plan, Spec};
use crate::{bail, err, Result};

/// Tasks of the job array when `--tasks` is not given (fewer when there
/// are fewer runs).
pub const DEFAULT_TASKS: usize = 10;

/// CPUs of each array task when `--cpus-per-task` is not given.
pub const DEFAULT_CPUS_PER_TASK: usize = 4;

/// What stands for the array's job id in the merge job's command line
/// before it is known (`--dry-run`).
pub const ARRAY_JOB_PLACEHOLDER: &str = "<array job id>";

/// The options of `ratenet submit`.
#[derive(Debug, Clone, Default)]
pub struct SubmitOptions {
    /// Tasks of the job array (default [`DEFAULT_TASKS`]); more tasks than
    /// runs are clamped to the number of runs.
    pub tasks: Option<usize>,
    /// CPUs (and worker threads) per task (default [`DEFAULT_CPUS_PER_TASK`]).
    pub cpus_per_task: Option<usize>,
    /// Time limit of each job (`--time`), e.g. `00:30:00`.
    pub time: Option<String>,
    /// Partition of both jobs.
    pub partition: Option<String>,
    /// More `#SBATCH` options for both jobs, e.g. `--account=lab`, `--mem=8G`.
    pub sbatch_args: Vec<String>,
    /// Output folder (default: `output.dir` of the file, relative to the
    /// working directory).
    pub out: Option<PathBuf>,
}

/// A checked submission: everything the two scripts hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The `ratenet` binary the tasks run (absolute).
    pub exe: PathBuf,
    /// The experiment file (absolute).
    pub spec: PathBuf,
    /// `--set key=value` overrides, passed on to every task.
    pub sets: Vec<String>,
    /// Where the jobs start (absolute): relative paths of the experiment
    /// file (tables, `output.dir`) are read from here, as by `ratenet run`.
    pub workdir: PathBuf,
    /// Output folder (absolute).
    pub out: PathBuf,
    /// Runs of the experiment.
    pub runs: usize,
    /// Tasks of the job array (at most `runs`).
    pub tasks: usize,
    /// Tasks asked for, when more than the runs (then clamped).
    pub tasks_requested: Option<usize>,
    /// CPUs per array task.
    pub cpus_per_task: usize,
    /// `--time` of both jobs.
    pub time: Option<String>,
    /// `--partition` of both jobs.
    pub partition: Option<String>,
    /// More `#SBATCH` options of both jobs.
    pub sbatch_args: Vec<String>,
    /// Job name of the array (`ratenet-<file stem>`); the merge job adds `-merge`.
    pub job_name: String,
}

/// The job ids of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The job array's id.
    pub array_job: String,
    /// The merge job's id.
    pub merge_job: String,
}

/// `s` quoted for a POSIX shell: unchanged when made only of characters no
/// shell treats specially, else in single quotes (a `'` inside written `'\''`).
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A command line as a shell would read it, each word [`shell_quote`]d.
pub fn command_line<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A value on an `#SBATCH` line (Slurm splits those lines at white space
/// and honours double quotes, not the shell's quoting).
fn sbatch_value(what: &str, s: &str) -> Result<String> {
    if s.contains(['"', '\n', '\r']) {
        bail!("{what} {s:?}: a double quote or line break cannot go on an #SBATCH line");
    }
    Ok(if s.contains(char::is_whitespace) {
        format!("\"{s}\"")
    } else {
        s.to_string()
    })
}

fn path_str(what: &str, p: &Path) -> Result<String> {
    p.to_str().map(str::to_string).ok_or_else(|| {
        err!(
            "{what} {}: not valid UTF-8, which a job script cannot hold",
            p.display()
        )
    })
}

fn option_word(what: &str, v: &Option<String>) -> Result<Option<String>> {
    match v {
        None => Ok(None),
        Some(s) if s.trim().is_empty() || s.contains(char::is_whitespace) || s.contains('"') => {
            bail!("{what} {s:?}: expected one word")
        }
        Some(s) => Ok(Some(s.clone())),
    }
}

impl Submission {
    /// Check the experiment file `spec` with its `--set` overrides (keys,
    /// ranges, number of runs; no table is read) and lay out the jobs.
    /// `exe` is the `ratenet` binary the tasks run and `workdir` the
    /// directory relative paths are taken from (the CLI passes
    /// [`std::env::current_exe`] and [`std::env::current_dir`]).
    pub fn new(spec: &Path, sets: &[String], opts: &SubmitOptions, exe: &Path, workdir: &Path) -> Result<Submission> {
        if !workdir.is_absolute() {
            bail!("submit: working directory {} is not absolute", workdir.display());
        }
        let spec = &workdir.join(spec);
        let parsed = Spec::load(spec, sets)?;
        let runs = Plan::new(&parsed)?.runs.len();
        if runs == 0 {
            bail!("{}: the experiment has no runs", spec.display());
        }
        let spec_abs = std::fs::canonicalize(spec).map_err(|e| err!("{}: cannot resolve ({e})", spec.display()))?;
        let exe = if exe.is_absolute() {
            exe.to_path_buf()
        } else {
            workdir.join(exe)
        };
        let out = workdir.join(opts.out.clone().unwrap_or_else(|| PathBuf::from(&parsed.output.dir)));
        let asked = opts.tasks.unwrap_or(DEFAULT_TASKS.min(runs));
        if asked == 0 {
            bail!("--tasks 0: expected at least 1 task");
        }
        let tasks = asked.min(runs);
        let cpus_per_task = opts.cpus_per_task.unwrap_or(DEFAULT_CPUS_PER_TASK);
        if cpus_per_task == 0 {
            bail!("--cpus-per-task 0: expected at least 1 CPU");
        }
        for a in &opts.sbatch_args {
            if !a.starts_with('-') || a.contains(['\n', '\r']) {
                bail!("--sbatch-arg {a:?}: expected one sbatch option, e.g. --sbatch-arg=--mem=8G");
            }
            let name = a.split(['=', ' ']).next().unwrap_or("");
            if ["--array", "-a", "--dependency", "-d", "--parsable", "--wrap"].contains(&name) {
                bail!("--sbatch-arg {a}: ratenet submit sets {name} itself");
            }
        }
        let stem: String = spec_abs
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let sub = Submission {
            exe,
            spec: spec_abs,
            sets: sets.to_vec(),
            workdir: workdir.to_path_buf(),
            out,
            runs,
            tasks,
            tasks_requested: (asked > runs).then_some(asked),
            cpus_per_task,
            time: option_word("--time", &opts.time)?,
            partition: option_word("--partition", &opts.partition)?,
            sbatch_args: opts.sbatch_args.clone(),
            job_name: format!("ratenet-{stem}"),
        };
        // Fail here, not in the scripts, on paths a script cannot hold.
        sub.array_script()?;
        sub.merge_script()?;
        Ok(sub)
    }

    /// The folder the scripts and the jobs' logs go to: `OUT/slurm`.
    pub fn script_dir(&self) -> PathBuf {
        self.out.join("slurm")
    }

    /// Path of the job array's script.
    pub fn array_script_path(&self) -> PathBuf {
        self.script_dir().join("array.sbatch")
    }

    /// Path of the merge job's script.
    pub fn merge_script_path(&self) -> PathBuf {
        self.script_dir().join("merge.sbatch")
    }

    /// The `#SBATCH` lines both jobs share (after the job name).
    fn common_header(&self, log: &str) -> Result<String> {
        let mut h = String::new();
        if let Some(t) = &self.time {
            h += &format!("#SBATCH --time={t}\n");
        }
        if let Some(p) = &self.partition {
            h += &format!("#SBATCH --partition={p}\n");
        }
        h += &format!(
            "#SBATCH --chdir={}\n",
            sbatch_value("working directory", &path_str("working directory", &self.workdir)?)?
        );
        let log = path_str("--out", &self.script_dir().join(log))?;
        h += &format!("#SBATCH --output={}\n", sbatch_value("--out", &log)?);
        for a in &self.sbatch_args {
            h += &format!("#SBATCH {a}\n");
        }
        Ok(h)
    }

    /// The job array's script: task `k` of N runs shard `k` of N.
    pub fn array_script(&self) -> Result<String> {
        let mut words = vec![
            path_str("ratenet binary", &self.exe)?,
            "run".into(),
            path_str("experiment file", &self.spec)?,
        ];
        for s in &self.sets {
            words.push("--set".into());
            words.push(s.clone());
        }
        words.push("--out".into());
        words.push(path_str("--out", &self.out)?);
        words.extend(["--shard", "slurm"].map(String::from));
        Ok(format!(
            "#!/bin/bash\n\
             # ratenet submit: the {runs} runs of {spec}, shard k of {n} in array task k.\n\
             #SBATCH --job-name={name}\n\
             #SBATCH --array=0-{last}\n\
             #SBATCH --cpus-per-task={cpus}\n\
             {common}\
             set -eu\n\
             exec {cmd} --threads \"$SLURM_CPUS_PER_TASK\" --quiet\n",
            runs = self.runs,
            spec = self.spec.display(),
            n = self.tasks,
            name = self.job_name,
            last = self.tasks - 1,
            cpus = self.cpus_per_task,
            common = self.common_header("%x_%A_%a.out")?,
            cmd = command_line(&words),
        ))
    }

    /// The merge job's script: `ratenet merge OUT`.
    pub fn merge_script(&self) -> Result<String> {
        let words = [
            path_str("ratenet binary", &self.exe)?,
            "merge".into(),
            path_str("--out", &self.out)?,
        ];
        Ok(format!(
            "#!/bin/bash\n\
             # ratenet submit: merge the shards of {out} once every array task has succeeded.\n\
             #SBATCH --job-name={name}-merge\n\
             #SBATCH --cpus-per-task=1\n\
             {common}\
             set -eu\n\
             exec {cmd}\n",
            out = self.out.display(),
            name = self.job_name,
            common = self.common_header("%x_%j.out")?,
            cmd = command_line(&words),
        ))
    }

    /// The command that submits the job array.
    pub fn array_command(&self) -> Vec<String> {
        vec![
            "sbatch".into(),
            "--parsable".into(),
            self.array_script_path().display().to_string(),
        ]
    }

    /// The command that submits the merge job after array job `array_job`.
    pub fn merge_command(&self, array_job: &str) -> Vec<String> {
        vec![
            "sbatch".into(),
            "--parsable".into(),
            format!("--dependency=afterok:{array_job}"),
            self.merge_script_path().display().to_string(),
        ]
    }

    /// The two command lines as `--dry-run` shows them, the array's job id
    /// written [`ARRAY_JOB_PLACEHOLDER`].
    pub fn command_lines(&self) -> [String; 2] {
        let merge = self.merge_command("@");
        let merge = command_line(&merge).replace("afterok:@", &format!("afterok:{ARRAY_JOB_PLACEHOLDER}"));
        [command_line(&self.array_command()), merge]
    }

    /// What `--dry-run` prints: both scripts and both command lines.
    pub fn dry_run_text(&self) -> Result<String> {
        let [a, m] = self.command_lines();
        Ok(format!(
            "# {}\n{}\n# {}\n{}\n# submitted with\n{a}\n{m}\n",
            self.array_script_path().display(),
            self.array_script()?,
            self.merge_script_path().display(),
            self.merge_script()?,
        ))
    }

    /// Write both scripts to [`Submission::script_dir`] and submit them
    /// with `sbatch --parsable`: the array, then the merge job depending on it.
    pub fn submit(&self) -> Result<Submitted> {
        let dir = self.script_dir();
        std::fs::create_dir_all(&dir).map_err(|e| err!("{}: cannot create ({e})", dir.display()))?;
        for (path, text) in [
            (self.array_script_path(), self.array_script()?),
            (self.merge_script_path(), self.merge_script()?),
        ] {
            std::fs::write(&path, text).map_err(|e| err!("{}: cannot write ({e})", path.display()))?;
        }
        let array_job = sbatch(&self.array_command())?;
        let merge_job = sbatch(&self.merge_command(&array_job)).map_err(|e| {
            e.context(format!(
                "array job {array_job} was submitted but its merge job was not (run `ratenet merge {}` once it is done, or `scancel {array_job}`)",
                self.out.display()
            ))
        })?;
        Ok(Submitted { array_job, merge_job })
    }
}

/// Run `sbatch --parsable …`; the job id it prints.
fn sbatch(cmd: &[String]) -> Result<String> {
    let out = std::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .output()
        .map_err(|e| {
            err!(
                "{}: cannot run sbatch ({e}); submit from a Slurm login node, or see the scripts with --dry-run",
                command_line(cmd)
            )
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        bail!("{}: sbatch failed ({}): {why}", command_line(cmd), out.status);
    }
    // `--parsable` prints `id` or `id;cluster`.
    let id = stdout.trim().split(';').next().unwrap_or("").trim().to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!(
            "{}: sbatch printed {:?}, not a job id",
            command_line(cmd),
            stdout.trim()
        );
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str =
        "[network]\nkind = \"random\"\nn_neurons = 50\n[sweep]\nseeds = \"0-4\"\n\"network.g\" = [0.001, 0.002]\n";

    fn fixture(opts: &SubmitOptions, sets: &[&str]) -> Result<(tempfile::TempDir, Submission)> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("my spec.toml"), SPEC).unwrap();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let wd = std::fs::canonicalize(dir.path()).unwrap();
        let sub = Submission::new(
            Path::new("my spec.toml"),
            &sets,
            opts,
            Path::new("/opt/bin/ratenet"),
            &wd,
        )?;
        Ok((dir, sub))
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("network.g=0.1"), "network.g=0.1");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(command_line(&["x", "a \"b\""]), "x 'a \"b\"'");
    }

    #[test]
    fn array_script_passes_every_set_quoted() {
        let sets = [
            "data.select.cell_type=23P",
            "output.dir=with space/x",
            "data.cells=it's \"here\".csv",
        ];
        let (dir, sub) = fixture(&SubmitOptions::default(), &sets).unwrap();
        let wd = std::fs::canonicalize(dir.path()).unwrap();
        let s = sub.array_script().unwrap();
        let spec = wd.join("my spec.toml").display().to_string();
        let out = wd.join("with space/x").display().to_string();
        let line = s.lines().last().unwrap();
        assert_eq!(
            line,
            format!(
                "exec /opt/bin/ratenet run '{spec}' --set data.select.cell_type=23P --set 'output.dir=with space/x' --set 'data.cells=it'\\''s \"here\".csv' --out '{out}' --shard slurm --threads \"$SLURM_CPUS_PER_TASK\" --quiet"
            )
        );
        // 2 points × 5 seeds = 10 runs: the default 10 tasks.
        assert_eq!(sub.runs, 10);
        assert!(s.contains("\n#SBATCH --array=0-9\n"), "{s}");
        assert!(s.contains("\n#SBATCH --cpus-per-task=4\n"));
        assert!(s.contains(&format!("\n#SBATCH --chdir={}\n", wd.display())), "{s}");
        assert!(
            s.contains(&format!("\n#SBATCH --output=\"{out}/slurm/%x_%A_%a.out\"\n")),
            "{s}"
        );
        assert!(s.contains("#SBATCH --job-name=ratenet-my_spec\n"));
        assert!(s.starts_with("#!/bin/bash\n"));
    }

    #[test]
    fn array_size_tasks_and_clamping() {
        let opts = SubmitOptions {
            tasks: Some(4),
            cpus_per_task: Some(2),
            time: Some("00:10:00".into()),
            partition: Some("short".into()),
            sbatch_args: vec!["--mem=2G".into(), "--account=lab".into()],
            out: Some("/scratch/res".into()),
        };
        let (_d, sub) = fixture(&opts, &[]).unwrap();
        let s = sub.array_script().unwrap();
        for l in [
            "#SBATCH --array=0-3",
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --time=00:10:00",
            "#SBATCH --partition=short",
            "#SBATCH --mem=2G",
            "#SBATCH --account=lab",
            "#SBATCH --output=/scratch/res/slurm/%x_%A_%a.out",
        ] {
            assert!(s.lines().any(|x| x == l), "{l} missing in\n{s}");
        }
        assert_eq!(sub.tasks_requested, None);
        let m = sub.merge_script().unwrap();
        assert!(m.lines().any(|x| x == "#SBATCH --mem=2G"));
        assert!(m.lines().any(|x| x == "#SBATCH --cpus-per-task=1"));
        assert!(!m.contains("--array"));
        assert_eq!(m.lines().last().unwrap(), "exec /opt/bin/ratenet merge /scratch/res");

        // More tasks than runs: clamped, and said so.
        let (_d, sub) = fixture(
            &SubmitOptions {
                tasks: Some(50),
                ..opts.clone()
            },
            &[],
        )
        .unwrap();
        assert_eq!((sub.tasks, sub.tasks_requested), (10, Some(50)));
        assert!(sub.array_script().unwrap().contains("#SBATCH --array=0-9\n"));
        let (_d, sub) = fixture(
            &SubmitOptions {
                tasks: Some(1),
                ..opts.clone()
            },
            &[],
        )
        .unwrap();
        assert!(sub.array_script().unwrap().contains("#SBATCH --array=0-0\n"));
    }

    #[test]
    fn dependency_line() {
        let opts = SubmitOptions {
            out: Some("/r".into()),
            ..Default::default()
        };
        let (_d, sub) = fixture(&opts, &[]).unwrap();
        assert_eq!(sub.array_command(), ["sbatch", "--parsable", "/r/slurm/array.sbatch"]);
        assert_eq!(
            sub.merge_command("1234"),
            [
                "sbatch",
                "--parsable",
                "--dependency=afterok:1234",
                "/r/slurm/merge.sbatch"
            ]
        );
        let [a, m] = sub.command_lines();
        assert_eq!(a, "sbatch --parsable /r/slurm/array.sbatch");
        assert_eq!(
            m,
            "sbatch --parsable --dependency=afterok:<array job id> /r/slurm/merge.sbatch"
        );
        let text = sub.dry_run_text().unwrap();
        assert!(text.contains(&sub.array_script().unwrap()) && text.contains(&sub.merge_script().unwrap()));
        assert!(text.ends_with(&format!("{a}\n{m}\n")));
    }

    #[test]
    fn refusals() {
        let bad = |opts: SubmitOptions, sets: &[&str]| fixture(&opts, sets).unwrap_err().message().to_string();
        assert!(bad(
            SubmitOptions {
                tasks: Some(0),
                ..Default::default()
            },
            &[]
        )
        .contains("--tasks 0"));
        assert!(bad(
            SubmitOptions {
                cpus_per_task: Some(0),
                ..Default::default()
            },
            &[]
        )
        .contains("--cpus-per-task"));
        let e = bad(
            SubmitOptions {
                sbatch_args: vec!["--array=0-3".into()],
                ..Default::default()
            },
            &[],
        );
        assert!(e.contains("--array"), "{e}");
        assert!(bad(
            SubmitOptions {
                sbatch_args: vec!["mem=2G".into()],
                ..Default::default()
            },
            &[]
        )
        .contains("--sbatch-arg"));
        assert!(bad(
            SubmitOptions {
                time: Some("1 day".into()),
                ..Default::default()
            },
            &[]
        )
        .contains("--time"));
        // The spec is checked: an unknown key, a value out of range.
        let e = bad(SubmitOptions::default(), &["network.gg=1"]);
        assert!(e.contains("gg"), "{e}");
        assert!(bad(SubmitOptions::default(), &["simulation.dt=-1"]).contains("dt"));
    }
}
