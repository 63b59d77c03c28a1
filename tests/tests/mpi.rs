//! tregs across MPI processes: `mpi_checks` under `mpirun -np 2` and `-np 3` (uneven row
//! shares). Needs OpenMPI (`apt-get install -y libopenmpi-dev openmpi-bin libclang-dev`;
//! README's test command installs it). Run: `cargo test -p tregs-tests --features mpi --test mpi`.

use std::process::Command;

fn mpirun(processes: usize) {
    let out = Command::new("mpirun")
        .args(["--oversubscribe", "--bind-to", "none", "-np"])
        .arg(processes.to_string())
        .arg(env!("CARGO_BIN_EXE_mpi_checks"))
        // mpirun refuses to start as root without these (CI containers run as root).
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("TREGS_COLLECTIVE_TIMEOUT", "120")
        .output()
        .expect("mpirun runs (install openmpi-bin)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "mpirun -np {processes} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(&format!("all checks passed on {processes} processes")),
        "{stdout}\n{stderr}"
    );
    println!("{stdout}");
}

#[test]
fn two_processes() {
    mpirun(2);
}

#[test]
fn three_processes() {
    mpirun(3);
}
