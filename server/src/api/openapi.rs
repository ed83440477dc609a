//! The OpenAPI 3.1 document of the API, built from the route table that serves it
//! ([`super::ApiRouter`]), so no route is served without being described. Each operation
//! carries its access rule (in words and as security requirements), its path parameters,
//! and, where the route is documented with [`super::ApiRouter::doc`], its body, query and
//! answer schemas, which come from the shared types. Every error is `application/problem+json`.
//!
//! Served at `/api/v1/openapi.json`; `/api/docs` shows it as a page ([`super::reference`]).

use std::sync::OnceLock;

use axum::{
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use utoipa::{
    openapi::{
        path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn},
        request_body::RequestBodyBuilder,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
        ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
        Required, ResponseBuilder, Schema, SecurityRequirement, Tag,
    },
    PartialSchema, ToSchema,
};

use super::ApiRouter;
use types::roles::Access;

pub const JSON: &str = "application/json";
pub const PROBLEM: &str = "application/problem+json";

/// Names a request body's and answers' shapes for one route. Routes without one are still in
/// the document, with their path, access rule and error shape.
#[derive(Default)]
pub struct Doc {
    body: Option<(&'static str, RefOr<Schema>)>,
    query: Vec<utoipa::openapi::path::Parameter>,
    path: Vec<(&'static str, RefOr<Schema>)>,
    answers: Vec<Answer>,
    schemas: Vec<(String, RefOr<Schema>)>,
}

struct Answer {
    status: &'static str,
    description: &'static str,
    content: Vec<(&'static str, RefOr<Schema>)>,
}

impl Doc {
    fn schema_of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        T::schemas(&mut self.schemas);
        T::schema()
    }

    /// A JSON body of this type.
    pub fn json<T: ToSchema>(mut self) -> Self {
        let schema = self.schema_of::<T>();
        self.body = Some((JSON, schema));
        self
    }

    /// A body of another media type (protobuf, forms, NDJSON), described by a schema.
    pub fn body(mut self, content_type: &'static str, schema: RefOr<Schema>) -> Self {
        self.body = Some((content_type, schema));
        self
    }

    /// A path parameter that is not a UUID (ids are, unless a route says otherwise).
    pub fn path<T: PartialSchema>(mut self, name: &'static str) -> Self {
        self.path.push((name, T::schema()));
        self
    }

    /// The query parameters: the fields of this type (which the handler reads from the query
    /// string with serde), each with its schema and description.
    pub fn query<T: ToSchema>(mut self) -> Self {
        use utoipa::openapi::schema::{Schema as S, SchemaType, Type};
        let schema = self.schema_of::<T>();
        let RefOr::T(S::Object(object)) = schema else {
            panic!("{} is not an object: it cannot be a query", T::name());
        };
        for (name, mut property) in object.properties {
            let description = match &mut property {
                RefOr::T(S::Object(o)) => {
                    // An `Option` is a parameter left out, never a `null` in a URL.
                    if let SchemaType::Array(types) = &o.schema_type {
                        let types: Vec<Type> = types
                            .iter()
                            .filter(|t| **t != Type::Null)
                            .cloned()
                            .collect();
                        if types.len() == 1 {
                            o.schema_type = SchemaType::Type(types[0].clone());
                        }
                    }
                    o.description.clone()
                }
                // `Option<Named>` is `oneOf [Named, null]`, its description beside the
                // reference: the parameter is the named type, described once.
                RefOr::T(S::OneOf(one)) => {
                    let is_null = |s: &RefOr<Schema>| {
                        matches!(s, RefOr::T(S::Object(o))
                            if o.schema_type == SchemaType::Type(Type::Null))
                    };
                    let mut rest: Vec<RefOr<Schema>> =
                        one.items.iter().filter(|s| !is_null(s)).cloned().collect();
                    let mut description = one.description.clone();
                    if rest.len() == 1 && rest.len() < one.items.len() {
                        let mut only = rest.remove(0);
                        if let RefOr::Ref(r) = &mut only {
                            if description.is_none() && !r.description.is_empty() {
                                description = Some(std::mem::take(&mut r.description));
                            }
                        }
                        property = only;
                    }
                    description
                }
                _ => None,
            };
            self.query.push(
                ParameterBuilder::new()
                    .name(name.clone())
                    .parameter_in(ParameterIn::Query)
                    .required(if object.required.contains(&name) {
                        Required::True
                    } else {
                        Required::False
                    })
                    .description(description)
                    .schema(Some(property))
                    .build(),
            );
        }
        self
    }

    /// One more query parameter (a handler reading its query by hand).
    pub fn param<T: PartialSchema>(
        mut self,
        name: &'static str,
        required: bool,
        description: &'static str,
    ) -> Self {
        self.query.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(if required {
                    Required::True
                } else {
                    Required::False
                })
                .description(Some(description))
                .schema(Some(T::schema()))
                .build(),
        );
        self
    }

    /// `200 OK` with a JSON body of this type.
    pub fn answers<T: ToSchema>(mut self) -> Self {
        let schema = self.schema_of::<T>();
        self.answers.push(Answer {
            status: "200",
            description: "OK",
            content: vec![(JSON, schema)],
        });
        self
    }

    /// `201 Created` with a JSON body of this type.
    pub fn creates<T: ToSchema>(mut self) -> Self {
        let schema = self.schema_of::<T>();
        self.answers.push(Answer {
            status: "201",
            description: "Created",
            content: vec![(JSON, schema)],
        });
        self
    }

    /// A JSON body of this type under another status (`"202"`, or `"2XX"` when it varies).
    pub fn gives<T: ToSchema>(mut self, status: &'static str, description: &'static str) -> Self {
        let schema = self.schema_of::<T>();
        self.answers.push(Answer {
            status,
            description,
            content: vec![(JSON, schema)],
        });
        self
    }

    /// `202 Accepted`: queued for the job runner.
    pub fn accepted(mut self) -> Self {
        self.answers.push(Answer {
            status: "202",
            description: "Accepted: queued",
            content: Vec::new(),
        });
        self
    }

    /// `204 No Content`.
    pub fn no_content(mut self) -> Self {
        self.answers.push(Answer {
            status: "204",
            description: "Done; nothing to say",
            content: Vec::new(),
        });
        self
    }

    /// An answer that is not JSON, or not only (a file in one of several formats, a stream,
    /// a redirect).
    pub fn answers_with(
        mut self,
        status: &'static str,
        description: &'static str,
        content_types: &[&'static str],
    ) -> Self {
        self.answers.push(Answer {
            status,
            description,
            content: content_types
                .iter()
                .map(|c| (*c, Schema::default().into()))
                .collect(),
        });
        self
    }

    /// The dashboard's filters (`types::dashboard::Filters`), read from the query as the
    /// dashboard's URL writes them: an empty value means the filter is off.
    pub fn filters(mut self) -> Self {
        use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
        let before = self.query.len();
        self = self.query::<types::dashboard::Filters>();
        let empty: RefOr<Schema> = ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(0))
            .into();
        for p in &mut self.query[before..] {
            if let Some(schema) = p.schema.take() {
                p.schema = Some(AnyOfBuilder::new().item(schema).item(empty.clone()).into());
            }
        }
        self
    }
}

/// `server::api::alerts::create` → `alerts::create`: the operation's summary.
pub fn handler_name<H>() -> &'static str {
    let full = std::any::type_name::<H>();
    let full = full.strip_prefix("server::").unwrap_or(full);
    full.strip_prefix("api::").unwrap_or(full)
}

/// The group a path belongs to in the document.
fn tag(path: &str) -> &str {
    if let Some(rest) = path.strip_prefix("/api/v1/") {
        return rest.split('/').next().unwrap_or("api");
    }
    if path.starts_with("/v1/") || path.starts_with("/opentelemetry.") {
        return "otlp";
    }
    match path.split('/').nth(1) {
        Some("ws") => "live",
        Some(first) => first,
        None => "api",
    }
}

/// `POST /api/v1/alerts/{id}/subscription` → `post_api_v1_alerts_id_subscription`: the whole
/// path, because a method and path are registered once (`/auth/login` and
/// `/api/v1/auth/login` are two operations).
fn operation_id(method: &str, path: &str) -> String {
    let slug: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let slug = slug
        .split('_')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    format!("{}_{slug}", method.to_ascii_lowercase())
}

fn method(m: &axum::http::Method) -> HttpMethod {
    match m.as_str() {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "DELETE" => HttpMethod::Delete,
        "PATCH" => HttpMethod::Patch,
        "HEAD" => HttpMethod::Head,
        other => panic!("no OpenAPI method for {other}"),
    }
}

const SESSION_COOKIE: &str = "session_cookie";
const BEARER: &str = "bearer_jwt";
const API_KEY: &str = "api_key";

/// Who may call: the same words the access-matrix test and `server routes` print, and which
/// credentials reach the route (`auth::authorize`).
fn access(access: Access) -> (String, Vec<SecurityRequirement>) {
    let none: [&str; 0] = [];
    let session = || {
        vec![
            SecurityRequirement::new(SESSION_COOKIE, none),
            SecurityRequirement::new(BEARER, none),
        ]
    };
    match access {
        Access::Public => (
            "Access: public (no credentials).".into(),
            vec![SecurityRequirement::default()],
        ),
        Access::Authenticated => (
            "Access: any signed-in person (a session, not an API key).".into(),
            session(),
        ),
        Access::Permission(p) => (
            format!(
                "Access: a signed-in person whose role holds the `{}` permission.",
                p.as_str()
            ),
            session(),
        ),
        Access::Read(_) => {
            let mut s = session();
            s.push(SecurityRequirement::new(API_KEY, ["read"]));
            (
                format!(
                    "Access: a session or an API key with the `read` scope, whose role holds one of \
                     `{}`; each sees what that permission covers.",
                    access.describe().replace('|', "`, `")
                ),
                s,
            )
        }
        Access::Ingest => (
            "Access: an API key with the `ingest` scope.".into(),
            vec![SecurityRequirement::new(API_KEY, ["ingest"])],
        ),
    }
}

/// Any JSON object (a Claude Code hook's payload, an import's statistics).
pub fn object() -> RefOr<Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new().schema_type(Type::Object).into()
}

/// A JSON array of objects (the batch API's items; NDJSON is taken as well).
pub fn array_of_objects() -> RefOr<Schema> {
    use utoipa::openapi::schema::ArrayBuilder;
    ArrayBuilder::new().items(object()).into()
}

/// Bytes of another format (protobuf).
pub fn bytes() -> RefOr<Schema> {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
        .into()
}

fn uuid_schema() -> RefOr<Schema> {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .into()
}

/// The path's `{name}`s: ids are UUIDs, a slug or a model name a string, unless the route's
/// doc says otherwise.
fn path_parameters(path: &str, doc: &Doc) -> Vec<utoipa::openapi::path::Parameter> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema = match doc.path.iter().find(|(n, _)| *n == name) {
                Some((_, schema)) => schema.clone(),
                None if matches!(name, "id" | "run" | "user_id") => uuid_schema(),
                None => String::schema(),
            };
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema))
                .build()
        })
        .collect()
}

/// The document for a route table.
pub fn document(routes: &ApiRouter) -> OpenApi {
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    types::problem::Problem::schemas(&mut schemas);
    schemas.push(("Problem".into(), types::problem::Problem::schema()));
    let problem = ResponseBuilder::new()
        .description("An error, as RFC 9457 problem details naming each bad field")
        .content(
            PROBLEM,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build();

    let mut paths = Paths::new();
    let mut tags = std::collections::BTreeSet::new();
    for e in &routes.routes {
        let (rule, security) = access(e.access);
        let tag = tag(e.path);
        tags.insert(tag.to_string());
        let mut op = OperationBuilder::new()
            .operation_id(Some(operation_id(e.method.as_str(), e.path)))
            .summary(Some(e.name))
            .description(Some(rule))
            .tag(tag)
            .securities(Some(security))
            .parameters(Some(
                path_parameters(e.path, &e.doc)
                    .into_iter()
                    .chain(e.doc.query.iter().cloned()),
            ));
        if let Some((content_type, schema)) = &e.doc.body {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        *content_type,
                        ContentBuilder::new().schema(Some(schema.clone())).build(),
                    )
                    .build(),
            ));
        }
        for a in &e.doc.answers {
            let mut r = ResponseBuilder::new().description(a.description);
            for (content_type, schema) in &a.content {
                r = r.content(
                    *content_type,
                    ContentBuilder::new().schema(Some(schema.clone())).build(),
                );
            }
            op = op.response(a.status, r.build());
        }
        if e.doc.answers.is_empty() {
            op = op.response("2XX", ResponseBuilder::new().description("Success").build());
        }
        op = op.response("default", problem.clone());
        paths.add_path_operation(e.path, vec![method(&e.method)], op.build());
        schemas.extend(e.doc.schemas.iter().cloned());
    }

    let mut components = ComponentsBuilder::new()
        .security_scheme(
            SESSION_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "devpulse_access",
                "The session a browser signs in to (POST /api/v1/auth/login sets it). \
                 State-changing requests with it must send Origin or Sec-Fetch-Site.",
            ))),
        )
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The `access_token` of POST /api/v1/auth/login or /api/v1/auth/refresh",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            API_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Api-Key",
                "An API key (`dp_…`, made on /settings/api-keys) with the `ingest` and/or \
                 `read` scope; `Authorization: Bearer dp_…` works as well.",
            ))),
        );
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    // Two types of one name would silently share a schema: name one of them with
    // `#[schema(as = …)]`.
    let clashes: Vec<&str> = schemas
        .windows(2)
        .filter(|pair| pair[0].0 == pair[1].0 && pair[0].1 != pair[1].1)
        .map(|pair| pair[0].0.as_str())
        .collect();
    assert!(
        clashes.is_empty(),
        "two schemas share each of these names: {clashes:?}"
    );
    schemas.dedup_by(|a, b| a.0 == b.0);
    for (name, schema) in schemas {
        components = components.schema(name, schema);
    }

    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("devpulse API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Analytics for AI coding assistants: ingestion (hooks, OTLP, batches, \
                     imports), dashboards, alerts, reports and administration. Generated from \
                     the server's route table; every route says who may call it.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .tags(Some(tags.into_iter().map(|t| {
            let mut tag = Tag::new(t);
            tag.description = None;
            tag
        })))
        .build()
}

/// `GET /api/v1/openapi.json`: the document, made once per process.
pub async fn spec() -> Response {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let body = DOCUMENT.get_or_init(|| {
        document(&super::routes())
            .to_json()
            .expect("the document serialises")
    });
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
        body.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_and_tags_read_well() {
        assert_eq!(
            operation_id("POST", "/api/v1/alerts/{id}/subscription"),
            "post_api_v1_alerts_id_subscription"
        );
        assert_eq!(operation_id("GET", "/ws"), "get_ws");
        assert_eq!(tag("/api/v1/dashboard/overview"), "dashboard");
        assert_eq!(tag("/v1/metrics"), "otlp");
        assert_eq!(
            tag("/opentelemetry.proto.collector.logs.v1.LogsService/Export"),
            "otlp"
        );
        assert_eq!(tag("/ws/metrics"), "live");
        assert_eq!(tag("/auth/sso/start"), "auth");
    }

    /// Every route of the table is an operation of the document and the other way round, each
    /// with its access rule and the problem+json error.
    #[test]
    fn the_document_has_exactly_the_route_table() {
        let routes = super::super::routes();
        let doc = serde_json::to_value(document(&routes)).unwrap();
        let mut in_doc = Vec::new();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (m, op) in item.as_object().unwrap() {
                in_doc.push((m.to_ascii_uppercase(), path.clone()));
                assert!(ids.insert(op["operationId"].to_string()), "{op}");
                assert!(
                    op["description"].as_str().unwrap().starts_with("Access: "),
                    "{m} {path}"
                );
                assert_eq!(
                    op["responses"]["default"]["content"][PROBLEM]["schema"]["$ref"],
                    "#/components/schemas/Problem"
                );
            }
        }
        let mut in_table: Vec<_> = routes
            .table()
            .into_iter()
            .map(|r| (r.method, r.path.to_string()))
            .collect();
        in_doc.sort();
        in_table.sort();
        assert_eq!(in_doc, in_table);
        assert_eq!(doc["openapi"], "3.1.0");
    }

    /// Every `$ref` points at a schema the document has.
    #[test]
    fn every_reference_resolves() {
        let doc = serde_json::to_value(document(&super::super::routes())).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap().clone();
        fn walk(v: &serde_json::Value, refs: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(serde_json::Value::String(r)) = m.get("$ref") {
                        refs.push(r.clone());
                    }
                    m.values().for_each(|v| walk(v, refs));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, refs)),
                _ => {}
            }
        }
        let mut refs = Vec::new();
        walk(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            assert!(schemas.contains_key(name), "{r} is not in the document");
        }
    }
}
