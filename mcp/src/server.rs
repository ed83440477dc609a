//! The MCP server: six tools, two resources and one prompt over a [`Backend`].

use std::sync::Arc;

use chrono::{DurationRound, TimeDelta, Utc};
use rmcp::{
    handler::server::{
        router::{prompt::PromptRouter, tool::ToolRouter},
        wrapper::Parameters,
    },
    model::{
        CallToolResult, ContentBlock, GetPromptResult, Implementation, ListResourcesResult,
        PaginatedRequestParams, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
        ReadResourceResult, Resource, ResourceContents, Role, ServerCapabilities, ServerConfig,
    },
    prompt, prompt_handler, prompt_router,
    service::RequestContext,
    tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler,
};
use serde_json::{json, Map, Value};

use crate::{
    args::{
        Args, DashboardArgs, ProductivityArgs, SessionEndArgs, SessionMetricsArgs,
        SessionStartArgs, Timeframe, Timestamp, ToolMetricsArgs, ToolUsageArgs, METRICS,
    },
    backend::{Backend, BackendError, Cx, Range, SessionQuery},
    render,
};

/// The URI of the last 24 hours' summary.
pub const SUMMARY_URI: &str = "devpulse://summary/current";
/// The URI of the last 7 days' summaries, one per UTC day.
pub const TRENDS_URI: &str = "devpulse://trends/daily";

const INSTRUCTIONS: &str = "devpulse collects Claude Code usage analytics. Record activity \
with record_session_start, record_tool_usage and record_session_end (resending the same \
session or tool_use_id is recorded once). Read it with get_session_metrics, get_tool_metrics \
and query_dashboard (timeframes 1h, 24h, 7d, 30d, always ending now), the resources \
devpulse://summary/current and devpulse://trends/daily, or the analyze-productivity prompt. \
Numbers cover what the caller may see: their own, their teams' or everyone's.";

/// The sessions `get_session_metrics` lists when no limit is given.
const DEFAULT_LIMIT: u32 = 20;
/// Days in `devpulse://trends/daily`, today (UTC) included.
const TREND_DAYS: i64 = 7;

/// devpulse's MCP server (an rmcp [`ServerHandler`]) over a [`Backend`]. Cheap to clone: the
/// backend and the routers are shared.
pub struct Devpulse<B: Backend> {
    backend: Arc<B>,
    routers: Arc<Routers<B>>,
}

struct Routers<B: Backend> {
    tools: ToolRouter<Devpulse<B>>,
    prompts: PromptRouter<Devpulse<B>>,
}

impl<B: Backend> Clone for Devpulse<B> {
    fn clone(&self) -> Self {
        Devpulse {
            backend: self.backend.clone(),
            routers: self.routers.clone(),
        }
    }
}

impl<B: Backend> std::fmt::Debug for Devpulse<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devpulse").finish_non_exhaustive()
    }
}

/// The backend's view of the request: its HTTP parts when served over Streamable HTTP.
fn cx(ctx: &RequestContext<RoleServer>) -> Cx {
    Cx::new(ctx.extensions.get::<http::request::Parts>().cloned())
}

/// A backend failure as a tool's answer: something that does not exist is an error result the
/// assistant can read; anything else is a protocol error.
fn tool_failure(e: BackendError) -> Result<CallToolResult, ErrorData> {
    match e {
        BackendError::NotFound(_) => Ok(CallToolResult::error(vec![ContentBlock::text(
            e.to_string(),
        )])),
        e => Err(e.into()),
    }
}

impl<B: Backend> Devpulse<B> {
    /// The server over `backend`.
    pub fn new(backend: Arc<B>) -> Self {
        Self::factory(move || backend.clone())()
    }

    /// Makes servers that share one set of routers, each over a backend from `make`.
    pub(crate) fn factory(
        make: impl Fn() -> Arc<B> + Send + Sync + 'static,
    ) -> impl Fn() -> Self + Send + Sync + 'static {
        let routers = Arc::new(Routers {
            tools: Self::tool_router(),
            prompts: Self::prompt_router(),
        });
        move || Devpulse {
            backend: make(),
            routers: routers.clone(),
        }
    }

    /// Writes one item and answers with the ingest result.
    async fn record_one(
        &self,
        ctx: &RequestContext<RoleServer>,
        what: String,
        item: Value,
    ) -> Result<CallToolResult, ErrorData> {
        match self.backend.record(&cx(ctx), vec![item]).await {
            Ok(results) => Ok(render::recorded(&what, results)),
            Err(e) => tool_failure(e),
        }
    }

    /// The summary of `range`.
    async fn summary_of(&self, cx: &Cx, range: Range) -> Result<Value, BackendError> {
        self.backend.summary(cx, range).await
    }

    /// The daily trend: one summary per UTC day, oldest first, today last.
    async fn daily_trend(&self, cx: &Cx) -> Result<Value, BackendError> {
        let today = Utc::now()
            .duration_trunc(TimeDelta::days(1))
            .map_err(|e| BackendError::Unavailable(e.to_string()))?;
        let days: Vec<_> = (0..TREND_DAYS)
            .rev()
            .map(|back| today - TimeDelta::days(back))
            .collect();
        let summaries = futures::future::try_join_all(days.iter().map(|&from| {
            self.summary_of(
                cx,
                Range {
                    from,
                    to: from + TimeDelta::days(1),
                },
            )
        }))
        .await?;
        Ok(Value::Array(
            days.iter()
                .zip(summaries)
                .map(|(day, mut summary)| {
                    let totals = summary.get_mut("total").map(Value::take).unwrap_or(summary);
                    json!({ "date": day.format("%Y-%m-%d").to_string(), "totals": totals })
                })
                .collect(),
        ))
    }
}

#[tool_router]
impl<B: Backend> Devpulse<B> {
    /// Records that a Claude Code session started.
    #[tool(
        description = "Record that a Claude Code session started. Recording the same \
                       session_id again is a no-op (reported as a duplicate).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn record_session_start(
        &self,
        Parameters(Args(a)): Parameters<Args<SessionStartArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut item = Map::new();
        item.insert("type".into(), "session_start".into());
        item.insert(
            "id".into(),
            format!("mcp:session_start:{}", a.session_id).into(),
        );
        item.insert(
            "timestamp".into(),
            Timestamp::or_now(a.timestamp).rfc3339().into(),
        );
        item.insert("session_id".into(), a.session_id.clone().into());
        render::insert_some(&mut item, "cwd", a.cwd);
        render::insert_some(&mut item, "git_branch", a.git_branch);
        render::insert_some(&mut item, "model", a.model);
        let what = format!("the start of session `{}`", a.session_id);
        self.record_one(&ctx, what, Value::Object(item)).await
    }

    /// Records that a Claude Code session ended.
    #[tool(
        description = "Record that a Claude Code session ended (reason: clear, logout, \
                       prompt_input_exit, other...). Recording it again is a no-op.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn record_session_end(
        &self,
        Parameters(Args(a)): Parameters<Args<SessionEndArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut item = Map::new();
        item.insert("type".into(), "session_end".into());
        item.insert(
            "id".into(),
            format!("mcp:session_end:{}", a.session_id).into(),
        );
        item.insert(
            "timestamp".into(),
            Timestamp::or_now(a.timestamp).rfc3339().into(),
        );
        item.insert("session_id".into(), a.session_id.clone().into());
        render::insert_some(&mut item, "reason", a.reason);
        let what = format!("the end of session `{}`", a.session_id);
        self.record_one(&ctx, what, Value::Object(item)).await
    }

    /// Records one tool execution.
    #[tool(
        description = "Record one tool execution (its name, whether it succeeded, how long it \
                       took). Pass Claude Code's tool_use_id to make resends harmless.",
        annotations(read_only_hint = false, destructive_hint = false)
    )]
    async fn record_tool_usage(
        &self,
        Parameters(Args(a)): Parameters<Args<ToolUsageArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let id = match &a.tool_use_id {
            Some(t) => format!("mcp:tool_use:{t}"),
            None => format!("mcp:tool_use:{}", uuid::Uuid::new_v4()),
        };
        let mut item = Map::new();
        item.insert("type".into(), "tool_use".into());
        item.insert("id".into(), id.clone().into());
        item.insert(
            "timestamp".into(),
            Timestamp::or_now(a.timestamp).rfc3339().into(),
        );
        item.insert("tool_name".into(), a.tool_name.clone().into());
        item.insert("success".into(), a.success.unwrap_or(true).into());
        render::insert_some(&mut item, "session_id", a.session_id);
        render::insert_some(&mut item, "duration_ms", a.duration_ms);
        render::insert_some(&mut item, "tool_use_id", a.tool_use_id);
        let what = format!("a use of `{}` (id `{id}`)", a.tool_name);
        self.record_one(&ctx, what, Value::Object(item)).await
    }

    /// Sessions in a timeframe, or one session.
    #[tool(
        description = "Claude Code sessions that started in a timeframe (newest first, with \
                       their tool executions, failures, tokens, cost and lines changed), or \
                       one session by session_id.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_session_metrics(
        &self,
        Parameters(Args(a)): Parameters<Args<SessionMetricsArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let timeframe = a.timeframe.unwrap_or_default();
        let q = SessionQuery {
            id: a.session_id,
            range: timeframe.ending(Utc::now()),
            limit: a.limit.unwrap_or(DEFAULT_LIMIT),
        };
        let one = q.id.is_some();
        match self.backend.sessions(&cx(&ctx), q).await {
            Ok(v) => {
                let text = if one {
                    render::session(&v)
                } else {
                    render::sessions(&v, timeframe)
                };
                Ok(render::answer(text, v))
            }
            Err(e) => tool_failure(e),
        }
    }

    /// Per-tool statistics in a timeframe.
    #[tool(
        description = "Per tool: executions, failures, success rate and durations (average, \
                       p50, p95) in a timeframe.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_tool_metrics(
        &self,
        Parameters(Args(a)): Parameters<Args<ToolMetricsArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let timeframe = a.timeframe.unwrap_or_default();
        match self
            .backend
            .tools(&cx(&ctx), timeframe.ending(Utc::now()))
            .await
        {
            Ok(v) => Ok(render::answer(render::tools(&v, timeframe), v)),
            Err(e) => tool_failure(e),
        }
    }

    /// Dashboard totals in a timeframe.
    #[tool(
        description = "Dashboard totals in a timeframe (sessions, tool executions and failures, \
                       agent invocations, API requests, tokens, cost, lines changed, by tool, \
                       by model), overall and per person, as a markdown table or JSON. \
                       `metrics` picks some of the totals.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn query_dashboard(
        &self,
        Parameters(Args(a)): Parameters<Args<DashboardArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let keys: Vec<&str> = match &a.metrics {
            Some(m) => m.iter().map(|m| m.key()).collect(),
            None => METRICS.to_vec(),
        };
        let summary = match self
            .summary_of(&cx(&ctx), a.timeframe.ending(Utc::now()))
            .await
        {
            Ok(s) => s,
            Err(e) => return tool_failure(e),
        };
        let picked = render::pick(&summary, &keys, a.timeframe);
        Ok(match a.format.unwrap_or_default() {
            crate::args::Format::Json => {
                let mut result =
                    CallToolResult::success(vec![ContentBlock::text(render::pretty(&picked))]);
                result.structured_content = Some(picked);
                result
            }
            crate::args::Format::Markdown => CallToolResult::success(vec![ContentBlock::text(
                render::dashboard(&picked, &keys, a.timeframe),
            )]),
        })
    }
}

#[prompt_router]
impl<B: Backend> Devpulse<B> {
    /// Asks the assistant to analyse the caller's Claude Code productivity.
    #[prompt(
        name = "analyze-productivity",
        description = "Analyse Claude Code productivity over a timeframe (default 24h): tool \
                       usage, failure rates, cost per session, token use, and suggestions."
    )]
    async fn analyze_productivity(
        &self,
        Parameters(Args(a)): Parameters<Args<ProductivityArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResult, ErrorData> {
        let timeframe = a.timeframe.unwrap_or_default();
        let range = timeframe.ending(Utc::now());
        let cx = cx(&ctx);
        let (summary, tools) =
            futures::try_join!(self.summary_of(&cx, range), self.backend.tools(&cx, range))?;
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            render::productivity_prompt(timeframe, &summary, &tools),
        )])
        .with_description(format!(
            "Productivity analysis of the last {}",
            timeframe.as_str()
        )))
    }
}

fn resource(uri: &str, name: &str, description: &str) -> Resource {
    Resource::new(uri, name)
        .with_description(description)
        .with_mime_type("application/json")
}

#[tool_handler(router = self.routers.tools)]
#[prompt_handler(router = self.routers.prompts)]
impl<B: Backend> ServerHandler for Devpulse<B> {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(
            Implementation::new("devpulse", env!("CARGO_PKG_VERSION")).with_title("devpulse"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![
            resource(
                SUMMARY_URI,
                "summary-current",
                "Dashboard summary of the last 24 hours: totals overall and per person.",
            ),
            resource(
                TRENDS_URI,
                "trends-daily",
                "The last 7 days (UTC), one entry per day: [{date, totals}], oldest first.",
            ),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let cx = cx(&context);
        let json = match request.uri.as_str() {
            SUMMARY_URI => {
                self.summary_of(&cx, Timeframe::Day.ending(Utc::now()))
                    .await?
            }
            TRENDS_URI => self.daily_trend(&cx).await?,
            other => {
                return Err(ErrorData::resource_not_found(
                    format!("no resource `{other}`; devpulse has {SUMMARY_URI} and {TRENDS_URI}"),
                    Some(json!({ "uri": other })),
                ))
            }
        };
        Ok(ReadResourceResult::new(vec![ResourceContents::text(
            render::pretty(&json),
            request.uri,
        )
        .with_mime_type("application/json")])
        .into())
    }
}
