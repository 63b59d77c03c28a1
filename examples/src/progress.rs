//! Progress as plain lines for output that is not a terminal (a log file, a pipe, CI): one
//! line per split of each epoch. burn's own fallback prints a `Debug` dump of its progress
//! state at every batch, hundreds of lines per run; in a terminal burn's display is kept.

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::MetricDefinition;
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use burn::train::LearnerSummary;
use std::io::IsTerminal;

/// Writes one line to stdout; a closed stdout (`| head`) is not worth a panic in the
/// training thread. [`outln!`](crate::outln) is this with `println!`'s syntax.
pub fn line(text: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// burn's summary at the end of training or testing. burn's default `println!`s it, which
/// panics the training thread on a closed stdout and leaves the process hanging.
fn print_summary(summary: Option<LearnerSummary>) {
    if let Some(summary) = summary {
        line(format_args!("{summary}"));
    }
}

/// One line per finished split: `epoch 3/40: train, 1438 items`.
#[derive(Default)]
pub struct EpochLines {
    epoch: usize,
    epochs: usize,
    split: String,
    items: usize,
}

impl EpochLines {
    /// This renderer where stdout is not a terminal, `None` (burn's default) where it is.
    pub fn unless_terminal() -> Option<Box<dyn MetricsRenderer>> {
        (!std::io::stdout().is_terminal())
            .then(|| Box::new(EpochLines::default()) as Box<dyn MetricsRenderer>)
    }
}

impl TrainingProgressLogger for EpochLines {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _total_items: Option<usize>,
        _label: Option<&str>,
    ) {
        self.epochs = total_epochs;
        self.epoch = starting_epoch.max(1);
        line(format_args!(
            "training: epochs {}..={total_epochs}",
            self.epoch
        ));
    }

    /// Called when epoch `epoch` has ended.
    fn update_epoch(&mut self, epoch: usize) {
        self.epoch = epoch + 1;
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_string();
        self.items = total_items;
    }

    fn update_split(&mut self, _items_processed: usize) {}

    fn end_split(&mut self) {
        line(format_args!(
            "epoch {}/{}: {}, {} items",
            self.epoch, self.epochs, self.split, self.items
        ));
    }

    fn end(&mut self) {}

    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for EpochLines {
    fn start_global_progress(&mut self, _total_tests: usize) {}

    fn start_test(&mut self, _name: &str, _total_items: usize) {}

    fn update_test_progress(&mut self, _items_processed: usize) {}

    fn end_test(&mut self) {}

    fn end_global_progress(&mut self) {}

    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRendererTraining for EpochLines {
    fn update_train(&mut self, _state: MetricState) {}

    fn update_valid(&mut self, _state: MetricState) {}

    fn on_train_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        print_summary(summary);
        Ok(())
    }
}

impl MetricsRendererEvaluation for EpochLines {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}

    fn on_test_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        print_summary(summary);
        Ok(())
    }
}

impl MetricsRenderer for EpochLines {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, _definition: MetricDefinition) {}
}
