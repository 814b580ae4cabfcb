//! The route table: every route of the API with its method, its path as API
//! Gateway writes it (`/v1/invites/{token}`), the endpoint that serves it
//! and the Lambda function that owns it. Matching a request and telling
//! which function may serve it both read this one table.

use http::Method;

use super::extract::PathParams;

/// A deployable unit. `All` serves every route (the devserver).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    RedeemCode,
    AcceptInvite,
    ListInvitations,
    ContactOwner,
    /// Admin: licenses, codes, seats, audit trail.
    LicenseAdmin,
    /// Admin: invitations (the only admin function that sends email).
    InvitationAdmin,
    All,
}

impl Function {
    /// Every Lambda function of the API (all but `All`).
    pub const LAMBDAS: [Function; 6] = [
        Function::RedeemCode,
        Function::AcceptInvite,
        Function::ListInvitations,
        Function::ContactOwner,
        Function::LicenseAdmin,
        Function::InvitationAdmin,
    ];

    /// The binary's (and package's) name; `devserver` for `All`.
    pub fn name(self) -> &'static str {
        match self {
            Function::RedeemCode => "redeem-code",
            Function::AcceptInvite => "accept-invite",
            Function::ListInvitations => "list-invitations",
            Function::ContactOwner => "contact-owner",
            Function::LicenseAdmin => "license-admin",
            Function::InvitationAdmin => "invitation-admin",
            Function::All => "devserver",
        }
    }
}

/// What a route does; its handler is chosen in `handlers::dispatch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Redeem,
    PreviewInvite,
    AcceptInvite,
    DeclineInvite,
    AcceptMyInvitation,
    DeclineMyInvitation,
    MyInvitations,
    LeaveLicense,
    ContactOwner,
    Licenses,
    License,
    CreateCode,
    ListCodes,
    RevokeCode,
    ListSeats,
    RemoveSeat,
    Events,
    Demand,
    CreateInvitations,
    ListInvitations,
    RevokeInvitation,
    ResendInvitation,
}

/// One row of the route table.
#[derive(Debug)]
pub(super) struct Route {
    pub method: Method,
    /// API Gateway's path syntax: literal segments and `{name}` parameters.
    pub path: &'static str,
    pub endpoint: Endpoint,
    pub function: Function,
}

const fn route(
    method: Method,
    path: &'static str,
    endpoint: Endpoint,
    function: Function,
) -> Route {
    Route {
        method,
        path,
        endpoint,
        function,
    }
}

/// Every route, grouped by the function that owns it (as in `template.yaml`):
/// method, API Gateway path, endpoint, function.
#[rustfmt::skip]
static TABLE: &[Route] = {
    use Endpoint as E;
    use Function as F;
    const GET: Method = Method::GET;
    const POST: Method = Method::POST;
    const DELETE: Method = Method::DELETE;
    &[
        route(POST,   "/v1/redemptions",                                            E::Redeem,              F::RedeemCode),
        route(GET,    "/v1/invites/{token}",                                        E::PreviewInvite,       F::AcceptInvite),
        route(POST,   "/v1/invites/{token}/accept",                                 E::AcceptInvite,        F::AcceptInvite),
        route(POST,   "/v1/invites/{token}/decline",                                E::DeclineInvite,       F::AcceptInvite),
        route(POST,   "/v1/me/invitations/{invitationId}/accept",                   E::AcceptMyInvitation,  F::AcceptInvite),
        route(POST,   "/v1/me/invitations/{invitationId}/decline",                  E::DeclineMyInvitation, F::AcceptInvite),
        route(GET,    "/v1/me/invitations",                                         E::MyInvitations,       F::ListInvitations),
        route(DELETE, "/v1/me/licenses/{licenseId}",                                E::LeaveLicense,        F::ListInvitations),
        route(POST,   "/v1/licenses/{licenseId}/contact-owner",                     E::ContactOwner,        F::ContactOwner),
        route(GET,    "/v1/licenses",                                               E::Licenses,            F::LicenseAdmin),
        route(GET,    "/v1/licenses/{licenseId}",                                   E::License,             F::LicenseAdmin),
        route(POST,   "/v1/licenses/{licenseId}/codes",                             E::CreateCode,          F::LicenseAdmin),
        route(GET,    "/v1/licenses/{licenseId}/codes",                             E::ListCodes,           F::LicenseAdmin),
        route(DELETE, "/v1/licenses/{licenseId}/codes/{codeId}",                    E::RevokeCode,          F::LicenseAdmin),
        route(GET,    "/v1/licenses/{licenseId}/seats",                             E::ListSeats,           F::LicenseAdmin),
        route(DELETE, "/v1/licenses/{licenseId}/seats/{userId}",                    E::RemoveSeat,          F::LicenseAdmin),
        route(GET,    "/v1/licenses/{licenseId}/events",                            E::Events,              F::LicenseAdmin),
        route(GET,    "/v1/licenses/{licenseId}/demand",                            E::Demand,              F::LicenseAdmin),
        route(POST,   "/v1/licenses/{licenseId}/invitations",                       E::CreateInvitations,   F::InvitationAdmin),
        route(GET,    "/v1/licenses/{licenseId}/invitations",                       E::ListInvitations,     F::InvitationAdmin),
        route(DELETE, "/v1/licenses/{licenseId}/invitations/{invitationId}",        E::RevokeInvitation,    F::InvitationAdmin),
        route(POST,   "/v1/licenses/{licenseId}/invitations/{invitationId}/resend", E::ResendInvitation,    F::InvitationAdmin),
    ]
};

/// Every route as (method, API Gateway path, name of the function that owns
/// it), e.g. `(POST, "/v1/invites/{token}/accept", "accept-invite")`.
pub fn routes() -> impl Iterator<Item = (Method, &'static str, &'static str)> {
    TABLE
        .iter()
        .map(|r| (r.method.clone(), r.path, r.function.name()))
}

/// A request that matches no route of the table: HTTP-level, before any
/// use case (`ROUTE_NOT_FOUND` 404, `METHOD_NOT_ALLOWED` 405 with the
/// methods the path does accept, for its `Allow` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("no such route")]
    NotFound,
    #[error("method not allowed on this route")]
    MethodNotAllowed(Allowed),
}

/// The methods the table has for one path, as an `Allow` header value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allowed {
    get: bool,
    post: bool,
    delete: bool,
}

impl Allowed {
    fn add(&mut self, method: &Method) {
        match *method {
            Method::GET => self.get = true,
            Method::POST => self.post = true,
            Method::DELETE => self.delete = true,
            // The table holds no other method (a test checks it).
            _ => {}
        }
    }

    /// `GET, POST`, in a fixed order.
    pub fn header_value(&self) -> &'static str {
        match (self.get, self.post, self.delete) {
            (true, false, false) => "GET",
            (false, true, false) => "POST",
            (false, false, true) => "DELETE",
            (true, true, false) => "GET, POST",
            (true, false, true) => "GET, DELETE",
            (false, true, true) => "POST, DELETE",
            (true, true, true) => "GET, POST, DELETE",
            (false, false, false) => "",
        }
    }
}

impl RouteError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "ROUTE_NOT_FOUND",
            Self::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
        }
    }

    /// A message that tells the user what to do next.
    pub fn message(&self) -> &'static str {
        match self {
            Self::NotFound => "There is no such API route; see the API reference.",
            Self::MethodNotAllowed(_) => {
                "This route does not accept that HTTP method; see the Allow header."
            }
        }
    }
}

/// No id of ours is this long, and DynamoDB keys have size limits: a path
/// with a longer segment names nothing.
const MAX_SEGMENT_BYTES: usize = 200;

/// The route `function` serves for `method` and `path`, with the path's
/// parameters. Anything before the `v1` segment (an API Gateway stage or a
/// base path mapping) is ignored, and so are empty segments. A path of the
/// table with another method is `MethodNotAllowed`; a route another
/// function owns is `NotFound`, as is any path not in the table.
pub(super) fn find<'p>(
    function: Function,
    method: &Method,
    path: &'p str,
) -> Result<(&'static Route, PathParams<'p>), RouteError> {
    let (route, params) = matching(method, path)?;
    if function != Function::All && route.function != function {
        return Err(RouteError::NotFound);
    }
    Ok((route, params))
}

fn matching<'p>(
    method: &Method,
    path: &'p str,
) -> Result<(&'static Route, PathParams<'p>), RouteError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.iter().any(|s| s.len() > MAX_SEGMENT_BYTES) {
        return Err(RouteError::NotFound);
    }
    let v1 = segments
        .iter()
        .position(|s| *s == "v1")
        .ok_or(RouteError::NotFound)?;
    let segments = &segments[v1..];
    let mut allowed = None::<Allowed>;
    for route in TABLE {
        if let Some(params) = parameters(route.path, segments) {
            if route.method == *method {
                return Ok((route, params));
            }
            allowed.get_or_insert_default().add(&route.method);
        }
    }
    Err(allowed.map_or(RouteError::NotFound, RouteError::MethodNotAllowed))
}

/// What a log may say of a request's path, whatever its method: the
/// pattern of the route the router matches it to (`/v1/invites/{token}`),
/// however it is spelled (a stage prefix, doubled or trailing slashes),
/// so no path parameter — an invite token above all — reaches a log. A
/// path of no route keeps only the segments that are literals of the table
/// (`/v1/…/…`), and nothing of what comes before `v1`.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'static, str> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let tail = match segments.iter().position(|s| *s == "v1") {
        Some(v1) if segments.iter().all(|s| s.len() <= MAX_SEGMENT_BYTES) => &segments[v1..],
        _ => return "(no route)".into(),
    };
    if let Some(route) = TABLE
        .iter()
        .find(|route| parameters(route.path, tail).is_some())
    {
        return route.path.into();
    }
    let literal = |segment: &str| {
        TABLE.iter().any(|route| {
            route
                .path
                .split('/')
                .any(|l| !l.starts_with('{') && !l.is_empty() && l == segment)
        })
    };
    tail.iter()
        .map(|s| if literal(s) { *s } else { "…" })
        .fold(String::new(), |path, s| path + "/" + s)
        .into()
}

/// The parameters of `segments` if they match `pattern`, segment by segment.
fn parameters<'p>(pattern: &'static str, segments: &[&'p str]) -> Option<PathParams<'p>> {
    let mut params = PathParams::default();
    let mut wanted = pattern.split('/').filter(|s| !s.is_empty());
    for segment in segments {
        match wanted.next()? {
            p if p.starts_with('{') && p.ends_with('}') => {
                params.push(&p[1..p.len() - 1], segment);
            }
            literal if literal == *segment => {}
            _ => return None,
        }
    }
    wanted.next().is_none().then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(method: Method, path: &str) -> Result<(Endpoint, Vec<String>), RouteError> {
        matching(&method, path)
            .map(|(route, params)| (route.endpoint, params.values().map(str::to_owned).collect()))
    }

    #[test]
    fn routes_match_with_or_without_a_stage_prefix() {
        assert_eq!(
            endpoint(Method::POST, "/v1/redemptions"),
            Ok((Endpoint::Redeem, vec![]))
        );
        assert_eq!(
            endpoint(Method::POST, "/prod/v1/redemptions"),
            Ok((Endpoint::Redeem, vec![]))
        );
        assert_eq!(
            endpoint(Method::POST, "/v1/invites/abc/accept"),
            Ok((Endpoint::AcceptInvite, vec!["abc".into()]))
        );
        assert_eq!(
            endpoint(Method::DELETE, "/v1/me/licenses/l1/"),
            Ok((Endpoint::LeaveLicense, vec!["l1".into()]))
        );
        assert_eq!(
            endpoint(Method::POST, "/v1/licenses/l1/invitations/inv_1/resend"),
            Ok((
                Endpoint::ResendInvitation,
                vec!["l1".into(), "inv_1".into()]
            ))
        );
    }

    #[test]
    fn unknown_paths_and_methods_are_told_apart() {
        assert_eq!(
            endpoint(Method::GET, "/v1/nothing"),
            Err(RouteError::NotFound)
        );
        assert_eq!(endpoint(Method::GET, "/"), Err(RouteError::NotFound));
        let allow = |err: Result<_, RouteError>| match err {
            Err(RouteError::MethodNotAllowed(allowed)) => allowed.header_value(),
            other => panic!("{other:?}"),
        };
        assert_eq!(allow(endpoint(Method::GET, "/v1/redemptions")), "POST");
        assert_eq!(allow(endpoint(Method::PUT, "/v1/me/invitations")), "GET");
        assert_eq!(
            allow(endpoint(Method::DELETE, "/v1/licenses/l1/codes")),
            "GET, POST"
        );
        assert_eq!(
            allow(endpoint(Method::TRACE, "/v1/licenses/l1/invitations/")),
            "GET, POST"
        );
        assert_eq!(allow(endpoint(Method::GET, "/v1/me/licenses/l1")), "DELETE");
        let long = format!("/v1/invites/{}", "a".repeat(MAX_SEGMENT_BYTES + 1));
        assert_eq!(endpoint(Method::GET, &long), Err(RouteError::NotFound));
    }

    #[test]
    fn logged_paths_are_the_matched_route_however_spelled() {
        let token = "tok-0123456789abcdefghijklmnopqrstuv";
        for (path, logged) in [
            (format!("/v1/invites/{token}"), "/v1/invites/{token}"),
            (format!("//v1/invites/{token}"), "/v1/invites/{token}"),
            (format!("/v1//invites/{token}"), "/v1/invites/{token}"),
            (format!("/v1/invites//{token}/"), "/v1/invites/{token}"),
            (
                format!("/prod/v1/invites/{token}/accept"),
                "/v1/invites/{token}/accept",
            ),
            (format!("/{token}/v1/redemptions"), "/v1/redemptions"),
            (format!("/v1/Invites/{token}"), "/v1/…/…"),
            (format!("/v1/invites/{token}/x"), "/v1/invites/…/…"),
            (format!("/invite/{token}"), "(no route)"),
            ("/v1/me/invitations".to_owned(), "/v1/me/invitations"),
        ] {
            assert_eq!(loggable_path(&path), logged, "{path}");
        }
        let long = format!("/v1/invites/{}", "a".repeat(MAX_SEGMENT_BYTES + 1));
        assert_eq!(loggable_path(&long), "(no route)");
    }

    #[test]
    fn a_route_of_another_function_is_not_found() {
        assert!(find(Function::RedeemCode, &Method::POST, "/v1/redemptions").is_ok());
        assert!(find(Function::All, &Method::POST, "/v1/redemptions").is_ok());
        assert_eq!(
            find(Function::ListInvitations, &Method::POST, "/v1/redemptions").err(),
            Some(RouteError::NotFound)
        );
        // The method is judged on the whole table first.
        assert!(matches!(
            find(Function::RedeemCode, &Method::PUT, "/v1/me/invitations"),
            Err(RouteError::MethodNotAllowed(_))
        ));
    }

    #[test]
    fn the_table_is_unambiguous_and_every_function_owns_a_route() {
        // No path fits two patterns of the table: a path made of each
        // pattern (parameters filled in) matches its own pattern only.
        for (i, route) in TABLE.iter().enumerate() {
            let path = route
                .path
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            for (j, other) in TABLE.iter().enumerate() {
                let fits = parameters(other.path, &segments).is_some();
                assert_eq!(
                    fits,
                    route.path == other.path,
                    "{} and {}",
                    route.path,
                    other.path
                );
                if i != j && route.path == other.path {
                    assert_ne!(route.method, other.method, "{} twice", route.path);
                }
            }
        }
        for function in Function::LAMBDAS {
            assert!(
                routes().any(|(_, _, name)| name == function.name()),
                "{function:?}"
            );
        }
        assert_eq!(routes().count(), 22);
        // `Allowed` names every method the table uses.
        assert!(
            TABLE
                .iter()
                .all(|r| [Method::GET, Method::POST, Method::DELETE].contains(&r.method))
        );
        assert!(routes().all(|(_, path, _)| path.starts_with("/v1/")));
    }
}

/// Properties, over generated input (256 cases each; `PROPTEST_CASES`
/// raises it for a soak).
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any route, its parameters filled with a secret-looking value,
        /// spelled with any stage prefix and extra slashes: the log line
        /// names the route, never the value.
        #[test]
        fn no_spelling_of_a_path_logs_a_parameter(
            route in prop::sample::select(TABLE.iter().map(|r| r.path).collect::<Vec<_>>()),
            secret in "[A-Za-z0-9_-]{24,48}",
            prefix in prop_oneof![Just(""), Just("/prod"), Just("//"), Just("/$default")],
            slashes in prop::collection::vec(1..3usize, 12),
            trailing in prop::bool::ANY,
        ) {
            let mut path = prefix.to_owned();
            for (i, segment) in route.split('/').filter(|s| !s.is_empty()).enumerate() {
                path.push_str(&"/".repeat(slashes[i % slashes.len()]));
                path.push_str(if segment.starts_with('{') { &secret } else { segment });
            }
            if trailing {
                path.push('/');
            }
            let logged = loggable_path(&path);
            prop_assert_eq!(logged.as_ref(), route);
            prop_assert!(!logged.contains(&secret));
        }

        #[test]
        fn no_path_logs_what_is_not_a_literal_of_the_table(path in "(/[A-Za-z0-9{}._-]{0,12}){0,8}") {
            let logged = loggable_path(&path);
            for segment in logged.split('/').filter(|s| !s.is_empty()) {
                let known = segment == "…"
                    || segment == "(no route)"
                    || TABLE.iter().any(|r| r.path.split('/').any(|l| l == segment));
                prop_assert!(known, "{} from {}", segment, path);
            }
        }
    }
}
