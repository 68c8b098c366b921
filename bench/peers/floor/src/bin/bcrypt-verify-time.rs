//! The bcrypt bound's input: how long one bcrypt verify takes on this
//! machine, with the same bcrypt crate and version as Wristband. Usage:
//! `bcrypt-verify-time COST [SAMPLES]`; prints the median seconds.

fn main() {
    let mut args = std::env::args().skip(1);
    let cost: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(12);
    let samples: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let Ok(hash) = bcrypt::hash("correct horse battery", cost) else {
        eprintln!("cannot hash at cost {cost}");
        std::process::exit(2);
    };
    let mut times: Vec<f64> = (0..samples)
        .map(|_| {
            let started = std::time::Instant::now();
            let ok = bcrypt::verify("correct horse battery", &hash).unwrap_or(false);
            assert!(ok, "the password verifies");
            started.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!("{:.6}", times[times.len() / 2]);
}
