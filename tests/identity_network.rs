//! End to end: the 8-3-8 identity network learns a distinct 3-bit code for each input.

#[allow(dead_code)]
#[path = "../examples/identity.rs"]
mod identity;

#[test]
fn identity_network_learns_distinct_codes_for_several_seeds() {
    for seed in [1, 2, 3] {
        let run = identity::train_identity(seed, 20_000).expect("training runs");
        assert!(identity::reconstructs(&run), "seed {seed}: outputs {:?}", run.outputs);
        assert!(identity::distinct_codes(&run), "seed {seed}: hidden {:?}", run.hidden);
        assert!(run.loss < 0.5, "seed {seed}: loss {}", run.loss);
    }
}
