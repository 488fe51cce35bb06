//! `$filter`: parsing into a syntax tree (and printing it back as OData text), binding it to a
//! table's columns, and evaluating it against rows with Dataverse's SQL Server semantics.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt;
use std::ops::RangeBounds;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use uuid::Uuid;

use super::collation::{self, Anchor, LikeElement};
use super::dates::{self, DateFunction};
use super::lexer::{self, Lexer, Token, TokenKind, query_error};
use super::{EvalContext, QueryError, Related, Schema};
use crate::value::{self, Value, ValueKind};

/// Levels of nesting accepted, each parenthesis and each `not` counting as one. Deeper input is
/// refused so a hostile filter cannot exhaust the stack; every recursive walk of the tree is
/// bounded by it.
pub const MAX_DEPTH: usize = 100;

/// Longest `$filter` text accepted. Far beyond any URL Dataverse serves (about 32 KiB), and low
/// enough that an absurd input is refused before it is scanned.
pub const MAX_FILTER_LEN: usize = 1 << 20;

/// Prefix of Dataverse's own query functions (`Microsoft.Dynamics.CRM.In(...)`).
const CRM_NAMESPACE: &str = "Microsoft.Dynamics.CRM.";

/// A parsed, unbound `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Two or more operands of one `and` chain. Parentheses keep their own node, so the tree
    /// prints back to text that parses to the same tree.
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare {
        left: Operand,
        op: CompareOp,
        right: Operand,
    },
    /// `contains(property,'value')`, `startswith`, `endswith`.
    StringMatch {
        function: StringFunction,
        property: String,
        value: String,
    },
    /// `Microsoft.Dynamics.CRM.In` / `NotIn`.
    In {
        property: String,
        values: Vec<Literal>,
        negated: bool,
    },
    /// `Microsoft.Dynamics.CRM.Between` / `NotBetween`.
    Between {
        property: String,
        low: Literal,
        high: Literal,
        negated: bool,
    },
    /// `Microsoft.Dynamics.CRM.EqualUserId` / `NotEqualUserId`.
    EqualUserId {
        property: String,
        negated: bool,
    },
    /// `Microsoft.Dynamics.CRM.EqualBusinessId` / `NotEqualBusinessId`: the caller's business unit.
    EqualBusinessId {
        property: String,
        negated: bool,
    },
    /// A date function: `LastXDays(PropertyName='createdon',PropertyValue=3)`, `Today(…)`,
    /// `On(…,PropertyValue='2024-01-01')`.
    Date {
        function: DateFunction,
        property: String,
        value: Option<Literal>,
    },
    /// `path/any(v:predicate)`, `path/all(v:predicate)` and `path/any()` over a collection-valued
    /// navigation property.
    Lambda {
        path: String,
        kind: LambdaKind,
        /// The range variable and the predicate; `None` for `any()`.
        body: Option<(String, Box<Filter>)>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaKind {
    Any,
    All,
}

impl LambdaKind {
    pub fn keyword(self) -> &'static str {
        match self {
            LambdaKind::Any => "any",
            LambdaKind::All => "all",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringFunction {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A column, or a path through single-valued navigation properties and lambda range
    /// variables (`primarycontactid/fullname`, `c/jobtitle`), segments joined by `/`.
    Property(String),
    Literal(Literal),
}

/// The values of the parameter aliases (`@p1=…`) a request defines, as written in the URL.
pub type Aliases = [(String, String)];

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(f64),
    String(String),
    Guid(Uuid),
    DateTime(DateTime<Utc>),
    Date(NaiveDate),
}

impl CompareOp {
    const ALL: [CompareOp; 6] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    pub fn keyword(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    fn from_keyword(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.keyword() == word)
    }

    /// The operator kind Microsoft.OData names in its binder errors.
    fn odata_kind(self) -> &'static str {
        match self {
            CompareOp::Eq => "Equal",
            CompareOp::Ne => "NotEqual",
            CompareOp::Gt => "GreaterThan",
            CompareOp::Ge => "GreaterThanOrEqual",
            CompareOp::Lt => "LessThan",
            CompareOp::Le => "LessThanOrEqual",
        }
    }

    /// The SDK `ConditionOperator` name Dataverse's query engine reports.
    fn condition_operator(self) -> &'static str {
        match self {
            CompareOp::Eq => "Equal",
            CompareOp::Ne => "NotEqual",
            CompareOp::Gt => "GreaterThan",
            CompareOp::Ge => "GreaterEqual",
            CompareOp::Lt => "LessThan",
            CompareOp::Le => "LessEqual",
        }
    }

    /// The operator that keeps the meaning when the operands swap sides (`5 lt x` is `x gt 5`).
    fn mirrored(self) -> Self {
        match self {
            CompareOp::Gt => CompareOp::Lt,
            CompareOp::Ge => CompareOp::Le,
            CompareOp::Lt => CompareOp::Gt,
            CompareOp::Le => CompareOp::Ge,
            same => same,
        }
    }

    fn holds(self, order: Ordering) -> bool {
        match self {
            CompareOp::Eq => order.is_eq(),
            CompareOp::Ne => order.is_ne(),
            CompareOp::Gt => order.is_gt(),
            CompareOp::Ge => order.is_ge(),
            CompareOp::Lt => order.is_lt(),
            CompareOp::Le => order.is_le(),
        }
    }
}

impl StringFunction {
    pub fn name(self) -> &'static str {
        match self {
            StringFunction::Contains => "contains",
            StringFunction::StartsWith => "startswith",
            StringFunction::EndsWith => "endswith",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            StringFunction::Contains,
            StringFunction::StartsWith,
            StringFunction::EndsWith,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }

    fn no_signature_error(self) -> QueryError {
        let name = self.name();
        query_error(format!(
            "No function signature for the function with name '{name}' matches the specified \
             arguments. The function signatures considered are: {name}(Edm.String Nullable=true, \
             Edm.String Nullable=true)."
        ))
    }
}

impl Literal {
    /// The EDM type Microsoft.OData gives the literal, for binder error texts.
    fn edm_type(&self) -> &'static str {
        match self {
            Literal::Null => "<null>",
            Literal::Bool(_) => "Edm.Boolean",
            Literal::Int(i) if i32::try_from(*i).is_ok() => "Edm.Int32",
            Literal::Int(_) => "Edm.Int64",
            Literal::Decimal(_) => "Edm.Decimal",
            Literal::String(_) => "Edm.String",
            Literal::Guid(_) => "Edm.Guid",
            Literal::DateTime(_) => "Edm.DateTimeOffset",
            Literal::Date(_) => "Edm.Date",
        }
    }
}

fn edm_type_of_kind(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Bool => "Edm.Boolean",
        ValueKind::Int => "Edm.Int32",
        ValueKind::Decimal => "Edm.Decimal",
        ValueKind::String => "Edm.String",
        ValueKind::Guid => "Edm.Guid",
        ValueKind::DateTime => "Edm.DateTimeOffset",
        ValueKind::Date => "Edm.Date",
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parses a `$filter` where parameter aliases are not allowed (inside `$expand`, which Dataverse
/// documents as not supporting them).
pub fn parse(text: &str) -> Result<Filter, QueryError> {
    parse_with(text, None)
}

/// Parses a top-level `$filter`: `@p1` takes the value the request gives it (`&@p1='x'`), and an
/// alias the request does not define is null, as OData specifies.
pub fn parse_with_aliases(text: &str, aliases: &Aliases) -> Result<Filter, QueryError> {
    parse_with(text, Some(aliases))
}

fn parse_with(text: &str, aliases: Option<&Aliases>) -> Result<Filter, QueryError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(query_error(format!(
            "The $filter expression is {} bytes long; this emulator accepts at most {MAX_FILTER_LEN}.",
            text.len()
        )));
    }
    let mut parser = Parser::new(text, aliases)?;
    if parser.token.kind == TokenKind::End {
        return Err(lexer::expression_expected(text, parser.token.start));
    }
    let filter = parser.parse_or()?;
    if parser.token.kind != TokenKind::End {
        return Err(lexer::syntax_error(text, parser.token.end));
    }
    Ok(filter)
}

/// How a primary expression was written, which decides what `not` may apply to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Parenthesized,
    Call,
    BareComparison,
    Negation,
}

/// What a path or literal turned out to be: a value, or a lambda (a boolean expression).
enum Term {
    Operand(Operand),
    Lambda(Filter),
}

struct Parser<'a> {
    text: &'a str,
    lexer: Lexer<'a>,
    token: Token,
    depth: usize,
    open_parens: usize,
    aliases: Option<&'a Aliases>,
    /// Range variables of the lambdas being parsed, innermost last.
    variables: Vec<String>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, aliases: Option<&'a Aliases>) -> Result<Self, QueryError> {
        let mut lexer = Lexer::new(text);
        let token = lexer.next_token()?;
        Ok(Parser {
            text,
            lexer,
            token,
            depth: 0,
            open_parens: 0,
            aliases,
            variables: Vec::new(),
        })
    }

    fn advance(&mut self) -> Result<Token, QueryError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.token, next))
    }

    fn word(&self) -> Option<&'a str> {
        (self.token.kind == TokenKind::Identifier)
            .then(|| &self.text[self.token.start..self.token.end])
    }

    fn at_word(&self, word: &str) -> bool {
        self.token.is_identifier(self.text, word)
    }

    fn expect(&mut self, kind: TokenKind, what: &str) -> Result<(), QueryError> {
        if self.token.kind != kind {
            return Err(lexer::expected(what, self.text, self.token.start));
        }
        self.advance()?;
        Ok(())
    }

    fn parse_or(&mut self) -> Result<Filter, QueryError> {
        let first = self.parse_and()?;
        if !self.at_word("or") {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.at_word("or") {
            self.advance()?;
            operands.push(self.parse_and()?);
        }
        Ok(Filter::Or(operands))
    }

    fn parse_and(&mut self) -> Result<Filter, QueryError> {
        let first = self.parse_unary()?.0;
        if !self.at_word("and") {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.at_word("and") {
            self.advance()?;
            operands.push(self.parse_unary()?.0);
        }
        Ok(Filter::And(operands))
    }

    fn parse_unary(&mut self) -> Result<(Filter, Form), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            // UriQueryExpressionParser_TooDeep.
            return Err(query_error(
                "Recursion depth exceeded allowed limit.".into(),
            ));
        }
        let result = if self.at_word("not") {
            self.advance()?;
            let (operand, form) = self.parse_unary()?;
            if form == Form::BareComparison {
                // Microsoft.OData binds `not` tighter than comparisons: `not a eq 1` is
                // `(not a) eq 1`, which Dataverse rejects for any non-boolean `a`.
                return Err(query_error(format!(
                    "'not' applies to the operand right after it, not to a comparison; write \
                     'not (…)' in '{}'.",
                    lexer::echo(self.text)
                )));
            }
            if let Some(name) = crm_function_name(&operand) {
                // filter-rows.md: Dataverse query functions cannot be negated with `not`.
                return Err(query_error(format!(
                    "The 'not' operator cannot be applied to the query function \
                     'Microsoft.Dynamics.CRM.{name}'; use its negated form instead."
                )));
            }
            Ok((Filter::Not(Box::new(operand)), Form::Negation))
        } else {
            self.parse_primary()
        };
        self.depth -= 1;
        result
    }

    fn parse_primary(&mut self) -> Result<(Filter, Form), QueryError> {
        if self.token.kind == TokenKind::OpenParen {
            self.advance()?;
            self.open_parens += 1;
            let inner = self.parse_or()?;
            self.expect(TokenKind::CloseParen, "')' or operator")?;
            self.open_parens -= 1;
            return Ok((inner, Form::Parenthesized));
        }
        let left = match self.parse_term()? {
            Term::Lambda(lambda) => return Ok((lambda, Form::Call)),
            Term::Operand(operand) => operand,
        };
        if let Operand::Property(name) = &left
            && self.token.kind == TokenKind::OpenParen
        {
            return Ok((self.parse_call(name)?, Form::Call));
        }
        let Some(op) = self.word().and_then(CompareOp::from_keyword) else {
            return Err(self.missing_operator());
        };
        self.advance()?;
        let right = self.parse_operand()?;
        Ok((Filter::Compare { left, op, right }, Form::BareComparison))
    }

    /// The error for an operand that is not followed by a comparison operator.
    fn missing_operator(&self) -> QueryError {
        let ends_expression = matches!(self.token.kind, TokenKind::End | TokenKind::CloseParen)
            || self.at_word("and")
            || self.at_word("or");
        if ends_expression {
            // MetadataBinder_FilterExpressionNotSingleValue: a bare property or literal.
            query_error("The $filter expression must evaluate to a single boolean value.".into())
        } else if self.open_parens > 0 {
            lexer::expected("')' or operator", self.text, self.token.start)
        } else {
            lexer::syntax_error(self.text, self.token.end)
        }
    }

    /// A property path or a literal, where a value is needed (a lambda is not one).
    fn parse_operand(&mut self) -> Result<Operand, QueryError> {
        let start = self.token.start;
        match self.parse_term()? {
            Term::Operand(operand) => Ok(operand),
            Term::Lambda(_) => Err(query_error(format!(
                "A lambda expression (any/all) is a condition, not a value, at position {} in '{}'.",
                lexer::char_pos(self.text, start),
                lexer::echo(self.text)
            ))),
        }
    }

    /// A literal, a parameter alias, a property path (`a/b/c`) or a lambda (`nav/any(…)`).
    fn parse_term(&mut self) -> Result<Term, QueryError> {
        let text = self.text;
        let token = self.token.clone();
        let operand = match &token.kind {
            TokenKind::Identifier => match &text[token.start..token.end] {
                "null" => Operand::Literal(Literal::Null),
                "true" => Operand::Literal(Literal::Bool(true)),
                "false" => Operand::Literal(Literal::Bool(false)),
                first => {
                    self.advance()?;
                    return self.parse_path(first.to_string());
                }
            },
            TokenKind::Alias(name) => {
                self.advance()?;
                return self.alias_operand(name).map(Term::Operand);
            }
            TokenKind::String(s) => Operand::Literal(Literal::String(s.clone())),
            TokenKind::Int(i) => Operand::Literal(Literal::Int(*i)),
            TokenKind::Decimal(d) => Operand::Literal(Literal::Decimal(*d)),
            TokenKind::Guid(g) => Operand::Literal(Literal::Guid(*g)),
            TokenKind::DateTime(d) => Operand::Literal(Literal::DateTime(*d)),
            TokenKind::Date(d) => Operand::Literal(Literal::Date(*d)),
            _ => return Err(lexer::expression_expected(self.text, token.start)),
        };
        self.advance()?;
        Ok(Term::Operand(operand))
    }

    /// The rest of a path after its first segment; the current token follows that segment.
    fn parse_path(&mut self, mut path: String) -> Result<Term, QueryError> {
        while self.token.kind == TokenKind::Slash {
            self.advance()?;
            let Some(segment) = self.word() else {
                return Err(lexer::expression_expected(self.text, self.token.start));
            };
            self.advance()?;
            let kind = match segment {
                "any" => Some(LambdaKind::Any),
                "all" => Some(LambdaKind::All),
                _ => None,
            };
            if let Some(kind) = kind
                && self.token.kind == TokenKind::OpenParen
            {
                return self.parse_lambda(path, kind).map(Term::Lambda);
            }
            path.push('/');
            path.push_str(segment);
        }
        Ok(Term::Operand(Operand::Property(path)))
    }

    /// `any(v:predicate)`, `all(v:predicate)` or `any()`; the current token is the `(`.
    fn parse_lambda(&mut self, path: String, kind: LambdaKind) -> Result<Filter, QueryError> {
        self.advance()?;
        if self.token.kind == TokenKind::CloseParen && kind == LambdaKind::Any {
            self.advance()?;
            return Ok(Filter::Lambda {
                path,
                kind,
                body: None,
            });
        }
        let Some(variable) = self.word() else {
            return Err(lexer::expression_expected(self.text, self.token.start));
        };
        if self.variables.iter().any(|v| v == variable) {
            // UriQueryExpressionParser_RangeVariableAlreadyDeclared.
            return Err(query_error(format!(
                "The range variable '{variable}' has already been declared."
            )));
        }
        self.advance()?;
        self.expect(TokenKind::Colon, "':'")?;
        self.variables.push(variable.to_string());
        self.open_parens += 1;
        let predicate = self.parse_or();
        self.open_parens -= 1;
        self.variables.pop();
        let predicate = predicate?;
        self.expect(TokenKind::CloseParen, "')' or operator")?;
        Ok(Filter::Lambda {
            path,
            kind,
            body: Some((variable.to_string(), Box::new(predicate))),
        })
    }

    /// The text an alias stands for, or `None` when the request does not define it.
    fn alias_text(&self, name: &str) -> Result<Option<&'a str>, QueryError> {
        let Some(aliases) = self.aliases else {
            return Err(query_error(format!(
                "Parameter aliases cannot be used here (inside $expand, for example): '@{name}' in \
                 '{}'.",
                lexer::echo(self.text)
            )));
        };
        Ok(aliases
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str()))
    }

    /// The value of `@name`: a literal or a property path. Its own text may not use aliases,
    /// so an alias cannot refer to itself.
    fn alias_operand(&self, name: &str) -> Result<Operand, QueryError> {
        let Some(text) = self.alias_text(name)? else {
            return Ok(Operand::Literal(Literal::Null));
        };
        let mut inner = Parser::new(text, None)?;
        let operand = inner.parse_operand()?;
        if inner.token.kind != TokenKind::End {
            return Err(lexer::syntax_error(text, inner.token.end));
        }
        Ok(operand)
    }

    /// A function call; the current token is the `(` after `name`.
    fn parse_call(&mut self, name: &str) -> Result<Filter, QueryError> {
        if let Some(function) = StringFunction::from_name(name) {
            self.advance()?;
            let property = self.parse_operand()?;
            self.expect(TokenKind::Comma, "')' or ','")?;
            let value = self.parse_operand()?;
            self.expect(TokenKind::CloseParen, "')' or ','")?;
            return match (property, value) {
                (Operand::Property(property), Operand::Literal(Literal::String(value))) => {
                    Ok(Filter::StringMatch {
                        function,
                        property,
                        value,
                    })
                }
                _ => Err(function.no_signature_error()),
            };
        }
        if let Some(crm_name) = name.strip_prefix(CRM_NAMESPACE) {
            return self.parse_crm_function(crm_name);
        }
        // MetadataBinder_UnknownFunction.
        Err(query_error(format!(
            "An unknown function with name '{name}' was found. This may also be a function import \
             or a key lookup on a navigation property, which is not allowed."
        )))
    }

    /// `Microsoft.Dynamics.CRM.<name>(PropertyName='x',PropertyValues=[...])`; the current token
    /// is the `(`.
    fn parse_crm_function(&mut self, name: &str) -> Result<Filter, QueryError> {
        self.advance()?;
        let mut arguments: Vec<(&'a str, CrmArgument)> = Vec::new();
        if self.token.kind != TokenKind::CloseParen {
            loop {
                let Some(parameter) = self.word() else {
                    return Err(lexer::expression_expected(self.text, self.token.start));
                };
                self.advance()?;
                self.expect(TokenKind::Equals, "'='")?;
                let value = self.parse_crm_argument()?;
                arguments.push((parameter, value));
                if self.token.kind == TokenKind::Comma {
                    self.advance()?;
                    continue;
                }
                break;
            }
        }
        self.expect(TokenKind::CloseParen, "')' or ','")?;
        build_crm_function(name, arguments)
    }

    fn parse_crm_argument(&mut self) -> Result<CrmArgument, QueryError> {
        if let TokenKind::Alias(name) = &self.token.kind {
            // filter-rows.md passes both PropertyName and PropertyValues through aliases.
            let text = self.alias_text(&name.clone())?;
            self.advance()?;
            let Some(text) = text else {
                return Ok(CrmArgument::Single(Literal::Null));
            };
            let mut inner = Parser::new(text, None)?;
            let argument = inner.parse_crm_argument()?;
            if inner.token.kind != TokenKind::End {
                return Err(lexer::syntax_error(text, inner.token.end));
            }
            return Ok(argument);
        }
        if self.token.kind != TokenKind::OpenBracket {
            return Ok(CrmArgument::Single(self.parse_array_item()?));
        }
        self.advance()?;
        let mut items = Vec::new();
        if self.token.kind != TokenKind::CloseBracket {
            loop {
                items.push(self.parse_array_item()?);
                if self.token.kind == TokenKind::Comma {
                    self.advance()?;
                    continue;
                }
                break;
            }
        }
        self.expect(TokenKind::CloseBracket, "']' or ','")?;
        Ok(CrmArgument::Array(items))
    }

    fn parse_array_item(&mut self) -> Result<Literal, QueryError> {
        let literal = match &self.token.kind {
            TokenKind::String(s) | TokenKind::JsonString(s) => Literal::String(s.clone()),
            TokenKind::Int(i) => Literal::Int(*i),
            TokenKind::Decimal(d) => Literal::Decimal(*d),
            TokenKind::Date(d) => Literal::Date(*d),
            TokenKind::DateTime(d) => Literal::DateTime(*d),
            TokenKind::Identifier if self.at_word("true") => Literal::Bool(true),
            TokenKind::Identifier if self.at_word("false") => Literal::Bool(false),
            _ => return Err(lexer::expression_expected(self.text, self.token.start)),
        };
        self.advance()?;
        Ok(literal)
    }
}

enum CrmArgument {
    Single(Literal),
    Array(Vec<Literal>),
}

fn crm_function_name(filter: &Filter) -> Option<&'static str> {
    match filter {
        Filter::In { negated, .. } => Some(if *negated { "NotIn" } else { "In" }),
        Filter::Between { negated, .. } => Some(if *negated { "NotBetween" } else { "Between" }),
        Filter::EqualUserId { negated, .. } => Some(if *negated {
            "NotEqualUserId"
        } else {
            "EqualUserId"
        }),
        Filter::EqualBusinessId { negated, .. } => Some(if *negated {
            "NotEqualBusinessId"
        } else {
            "EqualBusinessId"
        }),
        Filter::Date { function, .. } => Some(function.name()),
        _ => None,
    }
}

fn build_crm_function(
    name: &str,
    arguments: Vec<(&str, CrmArgument)>,
) -> Result<Filter, QueryError> {
    const SUPPORTED: [&str; 8] = [
        "In",
        "NotIn",
        "Between",
        "NotBetween",
        "EqualUserId",
        "NotEqualUserId",
        "EqualBusinessId",
        "NotEqualBusinessId",
    ];
    let date_function = DateFunction::from_name(name);
    if date_function.is_none() && !SUPPORTED.contains(&name) {
        return Err(query_error(format!(
            "The query function '{CRM_NAMESPACE}{name}' is not supported by this emulator."
        )));
    }
    let parameter_names: Vec<&str> = arguments.iter().map(|(n, _)| *n).collect();
    // MetadataBinder_QualifiedFunctionNameWithParametersNotDeclared.
    let not_declared = || {
        query_error(format!(
            "Could not find a function named '{CRM_NAMESPACE}{name}' with parameters '{}'.",
            parameter_names.join(",")
        ))
    };
    let mut property = None;
    let mut values = None;
    let mut value = None;
    for (parameter, argument) in arguments {
        match (parameter, argument) {
            ("PropertyName", CrmArgument::Single(Literal::String(p))) if property.is_none() => {
                property = Some(p);
            }
            ("PropertyValues", CrmArgument::Array(v)) if values.is_none() => values = Some(v),
            ("PropertyValue", CrmArgument::Single(v)) if value.is_none() => value = Some(v),
            _ => return Err(not_declared()),
        }
    }
    let Some(property) = property else {
        return Err(not_declared());
    };
    if let Some(function) = date_function {
        return match (function.parameter(), value, values) {
            (dates::Parameter::None, None, None) => Ok(Filter::Date {
                function,
                property,
                value: None,
            }),
            (dates::Parameter::Count | dates::Parameter::Date, Some(value), None) => {
                Ok(Filter::Date {
                    function,
                    property,
                    value: Some(value),
                })
            }
            _ => Err(not_declared()),
        };
    }
    if value.is_some() {
        return Err(not_declared());
    }
    match (name, values) {
        ("In" | "NotIn", Some(values)) => Ok(Filter::In {
            property,
            values,
            negated: name == "NotIn",
        }),
        ("Between" | "NotBetween", Some(values)) => {
            let count = values.len();
            let mut values = values.into_iter();
            match (values.next(), values.next(), values.next()) {
                (Some(low), Some(high), None) => Ok(Filter::Between {
                    property,
                    low,
                    high,
                    negated: name == "NotBetween",
                }),
                // The query engine's own wording, typo included (fake-xrm-easy issue #209).
                _ => Err(query_error(format!(
                    "The ConditonOperator.{name} requires 2 value/s, not {count}. Parameter Name: {property}"
                ))),
            }
        }
        ("EqualUserId" | "NotEqualUserId", None) => Ok(Filter::EqualUserId {
            property,
            negated: name == "NotEqualUserId",
        }),
        ("EqualBusinessId" | "NotEqualBusinessId", None) => Ok(Filter::EqualBusinessId {
            property,
            negated: name == "NotEqualBusinessId",
        }),
        _ => Err(not_declared()),
    }
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/// Writes `s` as an OData string literal: single quotes, a quote doubled.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn write_json_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            c if u32::from(c) < 0x20 => write!(f, "\\u{:04x}", u32::from(c))?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Decimal(d) => {
                // Always with a fraction, so `2.0` reads back as a decimal and not as `2`.
                let text = d.to_string();
                if text.contains(['.', 'e', 'E']) {
                    f.write_str(&text)
                } else {
                    write!(f, "{text}.0")
                }
            }
            Literal::String(s) => f.write_str(&quote(s)),
            Literal::Guid(g) => write!(f, "{}", g.hyphenated()),
            Literal::DateTime(d) => f.write_str(&d.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Literal::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Property(p) => f.write_str(p),
            Operand::Literal(l) => write!(f, "{l}"),
        }
    }
}

fn write_array_item(f: &mut fmt::Formatter<'_>, item: &Literal) -> fmt::Result {
    match item {
        Literal::String(s) => write_json_string(f, s),
        other => write!(f, "{other}"),
    }
}

impl Filter {
    /// Binding strength: `or` < `and` < everything else.
    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(_) => 1,
            Filter::And(_) => 2,
            _ => 3,
        }
    }

    fn write_operands(
        &self,
        f: &mut fmt::Formatter<'_>,
        operands: &[Filter],
        joiner: &str,
    ) -> fmt::Result {
        for (i, operand) in operands.iter().enumerate() {
            if i > 0 {
                f.write_str(joiner)?;
            }
            // A nested chain of the same or a weaker operator only exists because it was
            // parenthesized; keep the parentheses so the text parses back to the same tree.
            if operand.precedence() <= self.precedence() {
                write!(f, "({operand})")?;
            } else {
                write!(f, "{operand}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Or(operands) => self.write_operands(f, operands, " or "),
            Filter::And(operands) => self.write_operands(f, operands, " and "),
            Filter::Not(inner) => match **inner {
                Filter::StringMatch { .. } => write!(f, "not {inner}"),
                _ => write!(f, "not ({inner})"),
            },
            Filter::Compare { left, op, right } => write!(f, "{left} {} {right}", op.keyword()),
            Filter::StringMatch {
                function,
                property,
                value,
            } => write!(f, "{}({property},{})", function.name(), quote(value)),
            Filter::In {
                property,
                values,
                negated,
            } => {
                let name = if *negated { "NotIn" } else { "In" };
                write!(
                    f,
                    "{CRM_NAMESPACE}{name}(PropertyName={},PropertyValues=[",
                    quote(property)
                )?;
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_array_item(f, value)?;
                }
                f.write_str("])")
            }
            Filter::Between {
                property,
                low,
                high,
                negated,
            } => {
                let name = if *negated { "NotBetween" } else { "Between" };
                write!(
                    f,
                    "{CRM_NAMESPACE}{name}(PropertyName={},PropertyValues=[",
                    quote(property)
                )?;
                write_array_item(f, low)?;
                f.write_str(",")?;
                write_array_item(f, high)?;
                f.write_str("])")
            }
            Filter::EqualUserId { property, negated } => {
                let name = if *negated {
                    "NotEqualUserId"
                } else {
                    "EqualUserId"
                };
                write!(f, "{CRM_NAMESPACE}{name}(PropertyName={})", quote(property))
            }
            Filter::EqualBusinessId { property, negated } => {
                let name = if *negated {
                    "NotEqualBusinessId"
                } else {
                    "EqualBusinessId"
                };
                write!(f, "{CRM_NAMESPACE}{name}(PropertyName={})", quote(property))
            }
            Filter::Date {
                function,
                property,
                value,
            } => {
                write!(
                    f,
                    "{CRM_NAMESPACE}{}(PropertyName={}",
                    function.name(),
                    quote(property)
                )?;
                if let Some(value) = value {
                    f.write_str(",PropertyValue=")?;
                    write_array_item(f, value)?;
                }
                f.write_str(")")
            }
            Filter::Lambda { path, kind, body } => {
                write!(f, "{path}/{}(", kind.keyword())?;
                if let Some((variable, predicate)) = body {
                    write!(f, "{variable}:{predicate}")?;
                }
                f.write_str(")")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Binding
// ---------------------------------------------------------------------------------------------

/// A filter whose names are resolved to column ordinals and whose literals have the columns' kinds.
#[derive(Debug, Clone)]
pub struct BoundFilter {
    root: Node,
}

#[derive(Debug, Clone)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    IsNull(usize),
    IsNotNull(usize),
    Compare {
        ordinal: usize,
        op: CompareOp,
        value: Scalar,
    },
    CompareColumns {
        left: usize,
        op: CompareOp,
        right: usize,
    },
    Like {
        ordinal: usize,
        pattern: Vec<LikeElement>,
    },
    In {
        ordinal: usize,
        values: Vec<Scalar>,
    },
    Between {
        ordinal: usize,
        low: Scalar,
        high: Scalar,
    },
    EqualUserId(usize),
    EqualBusinessId(usize),
    /// A date or date-time cell inside the span (a date counts as its midnight UTC).
    Within {
        ordinal: usize,
        span: dates::Span,
    },
    /// Whether the cell is one of `ids` (not one of them, when `complement`); a null cell is
    /// in the set's complement. Lookup paths and lambdas bind to this.
    InSet {
        ordinal: usize,
        ids: HashSet<Uuid>,
        complement: bool,
    },
}

/// A literal converted to its column's kind; strings are stored case-folded.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Decimal(f64),
    Str(Box<str>),
    Guid(Uuid),
    DateTime(DateTime<Utc>),
    Date(NaiveDate),
}

fn unknown_property(schema: &dyn Schema, name: &str) -> QueryError {
    // MetadataBinder_PropertyNotDeclared, with Dataverse's type names.
    query_error(format!(
        "Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{}'.",
        schema.logical_name()
    ))
}

fn resolve(schema: &dyn Schema, name: &str) -> Result<(usize, ValueKind), QueryError> {
    schema
        .column(name)
        .ok_or_else(|| unknown_property(schema, name))
}

/// Query functions name lookups by their logical name (`PropertyName='ownerid'`), while the Web
/// API exposes the value as `_ownerid_value`; accept either.
fn resolve_function_property(
    schema: &dyn Schema,
    name: &str,
) -> Result<(usize, ValueKind), QueryError> {
    schema
        .column(name)
        .or_else(|| schema.column(&format!("_{name}_value")))
        .ok_or_else(|| unknown_property(schema, name))
}

fn incompatible(left: &str, right: &str, op: CompareOp) -> QueryError {
    // MetadataBinder_IncompatibleOperandsError.
    query_error(format!(
        "A binary operator with incompatible types was detected. Found operand types '{left}' and \
         '{right}' for operator kind '{}'.",
        op.odata_kind()
    ))
}

/// Converts a literal written in a comparison to the column's kind, as Microsoft.OData's type
/// promotion allows: integers widen to decimals, a date means midnight UTC on a date-time column,
/// and a quoted GUID is accepted on a GUID column (filter-rows.md quotes `_owninguser_value`).
fn convert(literal: &Literal, kind: ValueKind) -> Option<Scalar> {
    Some(match (kind, literal) {
        (ValueKind::Bool, Literal::Bool(b)) => Scalar::Bool(*b),
        (ValueKind::Int, Literal::Int(i)) => Scalar::Int(*i),
        (ValueKind::Int | ValueKind::Decimal, Literal::Decimal(d)) => Scalar::Decimal(*d),
        (ValueKind::Decimal, Literal::Int(i)) => Scalar::Decimal(*i as f64),
        (ValueKind::String, Literal::String(s)) => Scalar::Str(collation::fold_str(s)),
        (ValueKind::Guid, Literal::Guid(g)) => Scalar::Guid(*g),
        (ValueKind::Guid, Literal::String(s)) => Scalar::Guid(Uuid::try_parse(s.trim()).ok()?),
        (ValueKind::DateTime, Literal::DateTime(d)) => Scalar::DateTime(*d),
        (ValueKind::DateTime, Literal::Date(d)) => {
            Scalar::DateTime(d.and_time(chrono::NaiveTime::MIN).and_utc())
        }
        (ValueKind::Date, Literal::Date(d)) => Scalar::Date(*d),
        _ => return None,
    })
}

/// Converts a `PropertyValues` item, which Dataverse documents as strings whatever the column
/// (`PropertyValues=["5","2000"]` on a whole-number column, filter-rows.md).
fn convert_function_value(literal: &Literal, kind: ValueKind) -> Option<Scalar> {
    if let Some(scalar) = convert(literal, kind) {
        return Some(scalar);
    }
    match (kind, literal) {
        (ValueKind::String, Literal::Int(i)) => Some(Scalar::Str(i.to_string().into())),
        (ValueKind::String, Literal::Decimal(d)) => Some(Scalar::Str(d.to_string().into())),
        (_, Literal::String(s)) => {
            let s = s.trim();
            match kind {
                ValueKind::Bool => match s {
                    "true" | "1" => Some(Scalar::Bool(true)),
                    "false" | "0" => Some(Scalar::Bool(false)),
                    _ => None,
                },
                ValueKind::Int => s.parse().map(Scalar::Int).ok().or_else(|| {
                    s.parse()
                        .ok()
                        .filter(|d: &f64| d.is_finite())
                        .map(Scalar::Decimal)
                }),
                ValueKind::Decimal => s
                    .parse()
                    .ok()
                    .filter(|d: &f64| d.is_finite())
                    .map(Scalar::Decimal),
                ValueKind::DateTime => {
                    lexer::parse_datetime(s).map(Scalar::DateTime).or_else(|| {
                        NaiveDate::parse_from_str(s, "%Y-%m-%d")
                            .ok()
                            .map(|d| Scalar::DateTime(d.and_time(chrono::NaiveTime::MIN).and_utc()))
                    })
                }
                ValueKind::Date => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .map(Scalar::Date),
                ValueKind::String | ValueKind::Guid => None,
            }
        }
        _ => None,
    }
}

fn bad_function_value(literal: &Literal, property: &str, kind: ValueKind) -> QueryError {
    query_error(format!(
        "The value {literal} in PropertyValues cannot be compared with the property '{property}' of \
         type '{}'.",
        edm_type_of_kind(kind)
    ))
}

impl Filter {
    /// Resolves the filter against `schema`. Lookup paths and lambdas read the related table
    /// once, here, evaluating their part of the filter with `ctx`, so `matches` only looks at
    /// the row it is given.
    pub fn bind(&self, schema: &dyn Schema, ctx: &EvalContext) -> Result<BoundFilter, QueryError> {
        let scope = Scope {
            schema,
            variable: None,
        };
        Ok(BoundFilter {
            root: Binder { ctx }.node(self, &scope)?,
        })
    }
}

/// The table names are resolved against: the request's table, or inside a lambda the related
/// table, whose properties are named through the range variable (`c/fullname`).
struct Scope<'s> {
    schema: &'s dyn Schema,
    variable: Option<&'s str>,
}

struct Binder<'c> {
    ctx: &'c EvalContext,
}

/// MetadataBinder_PropertyAccessSourceNotSingleValue.
fn not_single_value(property: &str) -> QueryError {
    query_error(format!(
        "The parent value for a property access of a property '{property}' is not a single value. \
         Property access can only be applied to a single value."
    ))
}

impl Binder<'_> {
    fn node(&self, filter: &Filter, scope: &Scope<'_>) -> Result<Node, QueryError> {
        let all = |operands: &[Filter]| -> Result<Vec<Node>, QueryError> {
            operands.iter().map(|f| self.node(f, scope)).collect()
        };
        Ok(match filter {
            Filter::And(operands) => Node::And(all(operands)?),
            Filter::Or(operands) => Node::Or(all(operands)?),
            Filter::Not(inner) => Node::Not(Box::new(self.node(inner, scope)?)),
            Filter::Compare { left, op, right } => self.compare(left, *op, right, scope)?,
            Filter::StringMatch {
                function,
                property,
                value,
            } => self.at_path(scope, property, &|schema, column| {
                let (ordinal, kind) = resolve(schema, column)?;
                if kind != ValueKind::String {
                    return Err(function.no_signature_error());
                }
                let anchor = match function {
                    StringFunction::Contains => Anchor::Contains,
                    StringFunction::StartsWith => Anchor::StartsWith,
                    StringFunction::EndsWith => Anchor::EndsWith,
                };
                Ok(Node::Like {
                    ordinal,
                    pattern: collation::compile_like(value, anchor),
                })
            })?,
            Filter::In {
                property,
                values,
                negated,
            } => {
                let (ordinal, kind) = resolve_function_property(scope.schema, property)?;
                let values = values
                    .iter()
                    .map(|v| {
                        convert_function_value(v, kind)
                            .ok_or_else(|| bad_function_value(v, property, kind))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                negate_if(*negated, Node::In { ordinal, values })
            }
            Filter::Between {
                property,
                low,
                high,
                negated,
            } => {
                let (ordinal, kind) = resolve_function_property(scope.schema, property)?;
                let convert = |v: &Literal| {
                    convert_function_value(v, kind)
                        .ok_or_else(|| bad_function_value(v, property, kind))
                };
                negate_if(
                    *negated,
                    Node::Between {
                        ordinal,
                        low: convert(low)?,
                        high: convert(high)?,
                    },
                )
            }
            Filter::EqualUserId { property, negated } => {
                let (ordinal, kind) = resolve_function_property(scope.schema, property)?;
                if kind != ValueKind::Guid {
                    return Err(query_error(format!(
                        "Microsoft.Dynamics.CRM.EqualUserId needs a lookup or unique identifier \
                         property; '{property}' is of type '{}'.",
                        edm_type_of_kind(kind)
                    )));
                }
                negate_if(*negated, Node::EqualUserId(ordinal))
            }
            Filter::EqualBusinessId { property, negated } => {
                let (ordinal, kind) = resolve_function_property(scope.schema, property)?;
                if kind != ValueKind::Guid {
                    return Err(query_error(format!(
                        "Microsoft.Dynamics.CRM.EqualBusinessId needs a lookup or unique \
                         identifier property; '{property}' is of type '{}'.",
                        edm_type_of_kind(kind)
                    )));
                }
                negate_if(*negated, Node::EqualBusinessId(ordinal))
            }
            Filter::Date {
                function,
                property,
                value,
            } => self.date_function(scope, *function, property, value.as_ref())?,
            Filter::Lambda { path, kind, body } => self.lambda(scope, path, *kind, body)?,
        })
    }

    /// A date function becomes the span of instants it means now.
    fn date_function(
        &self,
        scope: &Scope<'_>,
        function: DateFunction,
        property: &str,
        value: Option<&Literal>,
    ) -> Result<Node, QueryError> {
        let name = function.name();
        let (ordinal, kind) = resolve_function_property(scope.schema, property)?;
        if !matches!(kind, ValueKind::DateTime | ValueKind::Date) {
            return Err(query_error(format!(
                "{CRM_NAMESPACE}{name} needs a date and time property; '{property}' is of type \
                 '{}'.",
                edm_type_of_kind(kind)
            )));
        }
        let bad_value = |v: &Literal, expected: &str| {
            query_error(format!(
                "The value {v} of PropertyValue is not valid for {CRM_NAMESPACE}{name}: {expected} \
                 is expected."
            ))
        };
        let mut count = 0;
        let mut date = NaiveDate::MIN;
        match (function.parameter(), value) {
            (dates::Parameter::Count, Some(v)) => {
                let parsed = match v {
                    Literal::Int(i) => u32::try_from(*i).ok(),
                    Literal::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                count = parsed.ok_or_else(|| bad_value(v, "a whole number of 0 or more"))?;
            }
            (dates::Parameter::Date, Some(v)) => {
                date = match v {
                    Literal::Date(d) => Some(*d),
                    Literal::DateTime(d) => Some(d.date_naive()),
                    Literal::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                        .ok()
                        .or_else(|| lexer::parse_datetime(s.trim()).map(|d| d.date_naive())),
                    _ => None,
                }
                .ok_or_else(|| bad_value(v, "a date (yyyy-mm-dd)"))?;
            }
            _ => {}
        }
        Ok(Node::Within {
            ordinal,
            span: function.span(self.ctx.now, count, date),
        })
    }

    /// A path as written, relative to the scope's table: inside a lambda it must start with the
    /// range variable.
    fn relative<'p>(&self, scope: &Scope<'_>, path: &'p str) -> Result<&'p str, QueryError> {
        let Some(variable) = scope.variable else {
            return Ok(path);
        };
        match path.split_once('/') {
            Some((head, rest)) if head == variable => Ok(rest),
            _ if path == variable => Err(query_error(format!(
                "The range variable '{variable}' stands for a whole row; compare one of its \
                 properties instead ('{variable}/<property>')."
            ))),
            _ => Err(query_error(format!(
                "Inside a lambda, properties must be named through its range variable \
                 ('{variable}/…'); '{path}' is not supported by this emulator."
            ))),
        }
    }

    /// Binds a condition on the column at the end of `path`. Each single-valued navigation
    /// property on the way becomes a set of the related rows' ids for which the rest of the
    /// condition holds (a related row that does not exist reads as all nulls, as OData
    /// specifies for a navigation to nothing).
    fn at_path(
        &self,
        scope: &Scope<'_>,
        path: &str,
        leaf: &dyn Fn(&dyn Schema, &str) -> Result<Node, QueryError>,
    ) -> Result<Node, QueryError> {
        let path = self.relative(scope, path)?;
        self.follow(scope.schema, path, leaf)
    }

    fn follow(
        &self,
        schema: &dyn Schema,
        path: &str,
        leaf: &dyn Fn(&dyn Schema, &str) -> Result<Node, QueryError>,
    ) -> Result<Node, QueryError> {
        let Some((head, rest)) = path.split_once('/') else {
            return leaf(schema, path);
        };
        let next = rest.split('/').next().unwrap_or(rest);
        if let Some(lookup) = schema.lookup(head) {
            let inner = self.follow(lookup.target.as_ref(), rest, leaf)?;
            return Ok(self.semi_join(lookup.ordinal, lookup.target.as_ref(), &inner));
        }
        if schema.collection(head).is_some() {
            return Err(not_single_value(next));
        }
        match schema.column(head) {
            // MetadataBinder_PropertyNotDeclared on a primitive parent.
            Some((_, kind)) => Err(query_error(format!(
                "Could not find a property named '{next}' on type '{}'.",
                edm_type_of_kind(kind)
            ))),
            None => Err(unknown_property(schema, head)),
        }
    }

    /// Reads the related table once: the ids of the rows where `inner` holds (or, when a
    /// missing row would pass `inner`, the ids where it fails).
    fn semi_join(&self, ordinal: usize, related: &dyn Related, inner: &Node) -> Node {
        let missing_passes = eval(inner, &[], self.ctx);
        let mut ids = HashSet::new();
        related.scan(&mut |id, row| {
            if eval(inner, row, self.ctx) != missing_passes {
                ids.insert(id);
            }
        });
        Node::InSet {
            ordinal,
            ids,
            complement: missing_passes,
        }
    }

    fn lambda(
        &self,
        scope: &Scope<'_>,
        path: &str,
        kind: LambdaKind,
        body: &Option<(String, Box<Filter>)>,
    ) -> Result<Node, QueryError> {
        let path = self.relative(scope, path)?;
        if let Some((head, _)) = path.split_once('/') {
            return Err(
                match (scope.schema.lookup(head), scope.schema.column(head)) {
                    // filter-rows.md: a collection behind a lookup cannot be filtered on.
                    (Some(_), _) => query_error(format!(
                        "Conditions on a collection-valued navigation property reached through a \
                     lookup ('{path}') are not supported."
                    )),
                    (None, Some(_)) => lambda_parent_not_collection(),
                    (None, None) if scope.schema.collection(head).is_some() => {
                        not_single_value(path.split('/').nth(1).unwrap_or(path))
                    }
                    (None, None) => unknown_property(scope.schema, head),
                },
            );
        }
        let Some(collection) = scope.schema.collection(path) else {
            if scope.schema.lookup(path).is_some() || scope.schema.column(path).is_some() {
                return Err(lambda_parent_not_collection());
            }
            return Err(unknown_property(scope.schema, path));
        };
        let predicate = match body {
            Some((variable, predicate)) => {
                let inner = Scope {
                    schema: collection.related.as_ref(),
                    variable: Some(variable),
                };
                Some(self.node(predicate, &inner)?)
            }
            None => None,
        };
        // `any`: the parents with a child that passes. `all`: the parents with a child that
        // fails, so a parent without children passes, as OData specifies.
        let wanted = kind == LambdaKind::Any;
        let mut ids = HashSet::new();
        collection.related.scan(&mut |_, row| {
            if let Value::Guid(parent) = value::cell(row, collection.referencing)
                && predicate
                    .as_ref()
                    .is_none_or(|p| eval(p, row, self.ctx) == wanted)
            {
                ids.insert(*parent);
            }
        });
        Ok(Node::InSet {
            ordinal: collection.key,
            ids,
            complement: !wanted,
        })
    }

    fn compare(
        &self,
        left: &Operand,
        op: CompareOp,
        right: &Operand,
        scope: &Scope<'_>,
    ) -> Result<Node, QueryError> {
        match (left, right) {
            (Operand::Property(p), Operand::Literal(l)) => {
                self.at_path(scope, p, &|schema, column| {
                    bind_property_literal(column, op, l, false, schema)
                })
            }
            (Operand::Literal(l), Operand::Property(p)) => {
                self.at_path(scope, p, &|schema, column| {
                    bind_property_literal(column, op.mirrored(), l, true, schema)
                })
            }
            (Operand::Property(a), Operand::Property(b)) => {
                let (a, b) = (self.relative(scope, a)?, self.relative(scope, b)?);
                if a.contains('/') || b.contains('/') {
                    // filter-rows.md: column comparison works within one row only.
                    return Err(query_error(format!(
                        "Columns can only be compared with columns of the same row; '{a}' and \
                         '{b}' are not both columns of '{}'.",
                        scope.schema.logical_name()
                    )));
                }
                // filter-rows.md, "Column comparison": both columns must have the same type.
                let (left, left_kind) = resolve(scope.schema, a)?;
                let (right, right_kind) = resolve(scope.schema, b)?;
                if left_kind != right_kind {
                    return Err(incompatible(
                        edm_type_of_kind(left_kind),
                        edm_type_of_kind(right_kind),
                        op,
                    ));
                }
                Ok(Node::CompareColumns { left, op, right })
            }
            (Operand::Literal(a), Operand::Literal(b)) => Err(query_error(format!(
                "Comparing two literals ({a} {} {b}) is not supported: one side must be a column.",
                op.keyword()
            ))),
        }
    }
}

/// MetadataBinder_LambdaParentMustBeCollection.
fn lambda_parent_not_collection() -> QueryError {
    query_error("Any/All may only be used following a collection.".into())
}

/// The negated query functions (`NotIn`, `NotBetween`, `NotEqualUserId`) are the plain ones under
/// `not`, so a NULL cell matches them, as it matches `ne`.
fn negate_if(negated: bool, node: Node) -> Node {
    if negated {
        Node::Not(Box::new(node))
    } else {
        node
    }
}

fn bind_property_literal(
    property: &str,
    op: CompareOp,
    literal: &Literal,
    literal_first: bool,
    schema: &dyn Schema,
) -> Result<Node, QueryError> {
    let (ordinal, kind) = resolve(schema, property)?;
    if *literal == Literal::Null {
        return match op {
            CompareOp::Eq => Ok(Node::IsNull(ordinal)),
            CompareOp::Ne => Ok(Node::IsNotNull(ordinal)),
            // The query engine's message when an ordering condition gets no value (fake-xrm-easy
            // issue #209, quoting Dynamics 365), typo included.
            _ => Err(query_error(format!(
                "The ConditonOperator.{} requires 1 value/s, not 0. Parameter Name: {property}",
                op.condition_operator()
            ))),
        };
    }
    match convert(literal, kind) {
        Some(value) => Ok(Node::Compare { ordinal, op, value }),
        None => {
            let (column, literal_type) = (edm_type_of_kind(kind), literal.edm_type());
            let op = if literal_first { op.mirrored() } else { op };
            Err(if literal_first {
                incompatible(literal_type, column, op)
            } else {
                incompatible(column, literal_type, op)
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/// Order of a stored value and a bound literal, `None` when they cannot be compared.
fn compare_scalar(cell: &Value, scalar: &Scalar) -> Option<Ordering> {
    match (cell, scalar) {
        (Value::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
        (Value::Int(a), Scalar::Int(b)) => Some(a.cmp(b)),
        (Value::Int(a), Scalar::Decimal(b)) => Some(collation::cmp_int_decimal(*a, *b)),
        (Value::Decimal(a), Scalar::Decimal(b)) => a.partial_cmp(b),
        (Value::Decimal(a), Scalar::Int(b)) => Some(collation::cmp_int_decimal(*b, *a).reverse()),
        (Value::String(a), Scalar::Str(b)) => Some(collation::cmp_ci(a, b)),
        (Value::Guid(a), Scalar::Guid(b)) => Some(collation::cmp_guid(a, b)),
        (Value::DateTime(a), Scalar::DateTime(b)) => Some(a.cmp(b)),
        (Value::Date(a), Scalar::Date(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

impl BoundFilter {
    /// Whether the row passes the filter.
    ///
    /// NULL semantics: a NULL cell fails every comparison except `ne`. Dataverse's query engine
    /// turns `ne` into `(column <> value OR column IS NULL)`, so records with an empty column
    /// come back from "does not equal" (PowerObjects, "Boolean Blitz: when two options are
    /// actually three", 2016, observing Advanced Find); `not (…)` is plain two-valued negation,
    /// which gives the same answer. Column-to-column comparisons follow plain SQL (any NULL side
    /// fails); Dataverse's behaviour there is not documented.
    pub fn matches(&self, row: &[Value], ctx: &EvalContext) -> bool {
        eval(&self.root, row, ctx)
    }
}

fn eval(node: &Node, row: &[Value], ctx: &EvalContext) -> bool {
    match node {
        Node::And(operands) => operands.iter().all(|n| eval(n, row, ctx)),
        Node::Or(operands) => operands.iter().any(|n| eval(n, row, ctx)),
        Node::Not(inner) => !eval(inner, row, ctx),
        Node::IsNull(ordinal) => value::cell(row, *ordinal).is_null(),
        Node::IsNotNull(ordinal) => !value::cell(row, *ordinal).is_null(),
        Node::Compare { ordinal, op, value } => {
            let cell = value::cell(row, *ordinal);
            if cell.is_null() {
                return *op == CompareOp::Ne;
            }
            compare_scalar(cell, value).map_or(*op == CompareOp::Ne, |order| op.holds(order))
        }
        Node::CompareColumns { left, op, right } => {
            collation::compare_values(value::cell(row, *left), value::cell(row, *right))
                .is_some_and(|order| op.holds(order))
        }
        Node::Like { ordinal, pattern } => match value::cell(row, *ordinal) {
            Value::String(s) => collation::like_matches(s, pattern),
            _ => false,
        },
        Node::In { ordinal, values } => {
            let cell = value::cell(row, *ordinal);
            values
                .iter()
                .any(|v| compare_scalar(cell, v) == Some(Ordering::Equal))
        }
        Node::Between { ordinal, low, high } => {
            let cell = value::cell(row, *ordinal);
            compare_scalar(cell, low).is_some_and(Ordering::is_ge)
                && compare_scalar(cell, high).is_some_and(Ordering::is_le)
        }
        Node::EqualUserId(ordinal) => {
            matches!(value::cell(row, *ordinal), Value::Guid(id) if *id == ctx.user_id)
        }
        Node::EqualBusinessId(ordinal) => {
            matches!(value::cell(row, *ordinal), Value::Guid(id) if *id == ctx.business_unit_id)
        }
        Node::Within { ordinal, span } => match value::cell(row, *ordinal) {
            Value::DateTime(d) => span.contains(d),
            Value::Date(d) => span.contains(&d.and_time(chrono::NaiveTime::MIN).and_utc()),
            _ => false,
        },
        Node::InSet {
            ordinal,
            ids,
            complement,
        } => match value::cell(row, *ordinal) {
            Value::Guid(id) => ids.contains(id) != *complement,
            _ => *complement,
        },
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
