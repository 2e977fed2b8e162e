//! The layer registry's tests: names, orders, defaults and opt-in texts as operators see them.

use super::*;

fn names(layers: impl IntoIterator<Item = Layer>) -> Vec<&'static str> {
    layers.into_iter().map(Layer::name).collect()
}

#[test]
fn operators_see_the_layers_listed_in_the_order_they_always_have() {
    assert_eq!(
        names(Layer::ALL),
        [
            "rlimits",
            "no_new_privs",
            "capabilities",
            "user",
            "landlock",
            "seccomp",
            "sockets",
            "noexec",
            "pid_namespace",
            "private_proc",
            "mdwe"
        ]
    );
}

#[test]
fn layers_are_prepared_and_reported_in_registry_order() {
    assert_eq!(
        names(REGISTRY.iter().map(|spec| spec.layer)),
        [
            "rlimits",
            "no_new_privs",
            "user",
            "capabilities",
            "landlock",
            "seccomp",
            "sockets",
            "noexec",
            "pid_namespace",
            "private_proc",
            "mdwe"
        ]
    );
}

#[test]
fn every_layer_is_found_under_its_own_name_whatever_its_case() {
    for layer in Layer::ALL {
        assert_eq!(layer.spec().layer, layer);
        assert_eq!(Layer::parse(layer.name()), Some(layer));
        assert_eq!(Layer::parse(&format!(" {} ", layer.name().to_ascii_uppercase())), Some(layer));
    }
    assert_eq!(Layer::parse("cgroup"), None);
}

#[test]
fn the_default_required_layers_are_those_a_command_is_never_run_without() {
    let mut required = names(Layer::REQUIRED_BY_DEFAULT.iter().copied());
    required.sort_unstable();
    assert_eq!(required, ["landlock", "no_new_privs", "noexec", "rlimits", "seccomp", "sockets"]);
}

#[test]
fn only_private_proc_and_mdwe_are_opt_in() {
    let opt_in = names(Layer::ALL.into_iter().filter(|layer| layer.is_opt_in()));
    assert_eq!(opt_in, ["private_proc", "mdwe"]);
}

#[test]
fn a_probe_failure_is_blamed_on_the_layer_whose_step_failed() {
    let all = |_| true;
    for (stage, layer) in [
        (Stage::Rlimits, Layer::Rlimits),
        (Stage::BoundingSet, Layer::Capabilities),
        (Stage::Capabilities, Layer::Capabilities),
        (Stage::SwitchUser, Layer::User),
        (Stage::NoNewPrivs, Layer::NoNewPrivs),
        (Stage::Landlock, Layer::Landlock),
        (Stage::Seccomp, Layer::Seccomp),
        (Stage::ProcMount, Layer::PrivateProc),
        (Stage::None, Layer::PidNamespace),
    ] {
        assert_eq!(Layer::failed_at(stage, all), Some(layer), "{stage:?}");
    }
    for stage in [Stage::ProcessGroup, Stage::ParentDeathSignal, Stage::WorkingDirectory, Stage::Exec] {
        assert_eq!(Layer::failed_at(stage, all), None, "{stage:?}");
    }
}

#[test]
fn a_failure_before_the_child_ran_is_no_layers_once_pid_namespace_is_off() {
    assert_eq!(Layer::failed_at(Stage::None, |layer| layer != Layer::PidNamespace), None);
    assert_eq!(Layer::failed_at(Stage::Rlimits, |_| false), Some(Layer::Rlimits));
}
