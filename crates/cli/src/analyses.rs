//! Analysis subcommands: each builds the same request the browser sends, runs the shared
//! implementation in loupe-interp, and writes the result as JSON (stdout or `--out`).

use crate::shared::{Common, MetricArgs, Patching, PromptAnalysis};
use crate::values;
use anyhow::Result;
use clap::Args;
use loupe_interp::ablation::{ablate, AblateRequest, AblationMethod, Component};
use loupe_interp::detectors::{detect_heads, DetectRequest};
use loupe_interp::dla::{direct_logit_attribution, DlaRequest};
use loupe_interp::lens::{logit_lens, LensRequest};
use loupe_interp::neuron::{neuron_view, NeuronRequest};
use loupe_interp::pairs::{minimal_pair, PairRequest};
use loupe_interp::patching::{PatchRequest, PatchSite, PatchSweep};
use loupe_interp::target::TokenRef;

#[derive(Args)]
pub struct LensArgs {
    #[command(flatten)]
    input: PromptAnalysis,
    /// A token whose rank and probability are followed through the layers
    #[arg(long, value_name = "TOK", value_parser = values::token)]
    target: Option<TokenRef>,
    /// Top tokens per layer and position
    #[arg(long, value_name = "K", default_value_t = 5)]
    top_k: usize,
}

pub fn lens(a: LensArgs) -> Result<()> {
    let prepend_bos = a.input.prepend_bos();
    let req = LensRequest { prompt: a.input.prompt.prompt, target: a.target, top_k: Some(a.top_k), prepend_bos };
    a.input.common.run(|model, tok, limit| logit_lens(model, tok, &req, limit))
}

#[derive(Args)]
pub struct DlaArgs {
    #[command(flatten)]
    input: PromptAnalysis,
    /// The token whose logit is attributed
    #[arg(long, value_name = "TOK", value_parser = values::token)]
    token: TokenRef,
    /// Attribute logit(token) − logit(minus) instead
    #[arg(long, value_name = "TOK", value_parser = values::token)]
    minus: Option<TokenRef>,
    /// The position read (-1: the last)
    #[arg(long, value_name = "P", default_value_t = -1)]
    position: i64,
}

pub fn dla(a: DlaArgs) -> Result<()> {
    let prepend_bos = a.input.prepend_bos();
    let req = DlaRequest { prompt: a.input.prompt.prompt, token: a.token, minus: a.minus, position: a.position, prepend_bos };
    a.input.common.run(|model, tok, limit| direct_logit_attribution(model, tok, &req, limit))
}

#[derive(Args)]
pub struct PatchArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    patching: Patching,
    /// What is patched: resid_pre (the default), attn_out, mlp_out, head_z or head_z_pos
    #[arg(long, value_name = "SITE", value_parser = values::serde_enum::<PatchSite>)]
    site: Option<PatchSite>,
}

pub fn patch(a: PatchArgs) -> Result<()> {
    let Patching { clean, corrupted, metric } = a.patching;
    let site = a.site.unwrap_or(PatchSite::ResidPre);
    let req = PatchRequest { clean, corrupted, metric: metric.metric(), site, prepend_bos: a.common.prepend_bos() };
    a.common.run(|model, tok, limit| {
        let mut sweep = PatchSweep::start(model, tok, &req, limit)?;
        let started = std::time::Instant::now();
        while sweep.step(model)? {
            eprint!("\rpatching: layer {}/{}", sweep.result().layers_done, model.cfg.n_layers);
        }
        eprintln!("\rpatching: {} layers in {:.2} s", model.cfg.n_layers, started.elapsed().as_secs_f64());
        anyhow::Ok(sweep.result())
    })
}

#[derive(Args)]
pub struct HeadsArgs {
    #[command(flatten)]
    input: PromptAnalysis,
    /// Seed of the random tokens the induction scores repeat
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// How many random tokens are repeated
    #[arg(long, value_name = "N", default_value_t = 20)]
    random_length: usize,
}

pub fn heads(a: HeadsArgs) -> Result<()> {
    let prepend_bos = a.input.prepend_bos();
    let req = DetectRequest {
        prompt: a.input.prompt.prompt,
        random_length: Some(a.random_length),
        seed: Some(a.seed),
        random_ids: None,
        prepend_bos,
    };
    a.input.common.run(|model, tok, limit| detect_heads(model, tok, &req, limit))
}

/// Exactly one component: clap checks the group before `component` sees it.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct ComponentArgs {
    /// An attention head
    #[arg(long, value_name = "L.H", value_parser = values::layer_index)]
    head: Option<(usize, usize)>,
    /// A whole MLP layer
    #[arg(long, value_name = "L")]
    mlp: Option<usize>,
    /// One MLP neuron
    #[arg(long, value_name = "L.N", value_parser = values::layer_index)]
    neuron: Option<(usize, usize)>,
}

impl ComponentArgs {
    fn component(&self) -> Result<Component> {
        Ok(match (self.head, self.mlp, self.neuron) {
            (Some((layer, head)), None, None) => Component::Head { layer, head },
            (None, Some(layer), None) => Component::Mlp { layer },
            (None, None, Some((layer, index))) => Component::Neuron { layer, index },
            _ => anyhow::bail!("name exactly one component: --head L.H, --mlp L or --neuron L.N"),
        })
    }
}

#[derive(Args)]
pub struct AblateArgs {
    #[command(flatten)]
    input: PromptAnalysis,
    #[command(flatten)]
    component: ComponentArgs,
    /// What replaces the component's activation: zero (the default), mean, resample or mean_reference
    #[arg(long, value_name = "METHOD", value_parser = values::serde_enum::<AblationMethod>)]
    method: Option<AblationMethod>,
    /// resample: the prompt whose activation is used (same token length)
    #[arg(long, value_name = "TEXT")]
    reference: Option<String>,
    /// mean_reference: prompts separated by '|', whose mean activation is used
    #[arg(long, value_name = "A|B|…", value_delimiter = '|')]
    references: Vec<String>,
    #[command(flatten)]
    metric: MetricArgs,
}

pub fn ablate_cmd(a: AblateArgs) -> Result<()> {
    let prepend_bos = a.input.prepend_bos();
    let req = AblateRequest {
        prompt: a.input.prompt.prompt,
        component: a.component.component()?,
        method: a.method.unwrap_or(AblationMethod::Zero),
        metric: a.metric.metric(),
        reference: a.reference,
        references: a.references,
        prepend_bos,
    };
    a.input.common.run(|model, tok, limit| ablate(model, tok, &req, limit))
}

#[derive(Args)]
pub struct PairArgs {
    #[command(flatten)]
    common: Common,
    /// The first prompt
    #[arg(long, value_name = "TEXT")]
    a: String,
    /// The second prompt
    #[arg(long, value_name = "TEXT")]
    b: String,
    /// Top next tokens of each
    #[arg(long, value_name = "K", default_value_t = 10)]
    top_k: usize,
}

pub fn pair(a: PairArgs) -> Result<()> {
    let req = PairRequest { a: a.a, b: a.b, top_k: Some(a.top_k), prepend_bos: a.common.prepend_bos() };
    a.common.run(|model, tok, limit| minimal_pair(model, tok, &req, limit))
}

#[derive(Args)]
pub struct NeuronArgs {
    #[command(flatten)]
    input: PromptAnalysis,
    /// The neuron's layer
    #[arg(long, value_name = "L", default_value_t = 0)]
    layer: usize,
    /// The neuron's index in the MLP
    #[arg(long, value_name = "N", default_value_t = 0)]
    neuron: usize,
    /// Promoted and suppressed tokens shown
    #[arg(long, value_name = "K", default_value_t = 10)]
    top_k: usize,
}

pub fn neuron(a: NeuronArgs) -> Result<()> {
    let prepend_bos = a.input.prepend_bos();
    let req = NeuronRequest { prompt: a.input.prompt.prompt, layer: a.layer, neuron: a.neuron, top_k: Some(a.top_k), prepend_bos };
    a.input.common.run(|model, tok, limit| neuron_view(model, tok, &req, limit))
}
