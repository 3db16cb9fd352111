namespace OnnxGpt.Templates.Jinja;

/// <summary>
/// Parses tokens into statements and expressions once, with Jinja's precedence: conditional expression, <c>or</c>,
/// <c>and</c>, <c>not</c>, comparisons and <c>in</c>, <c>+</c>/<c>-</c>, <c>~</c>, <c>*</c>/<c>/</c>/<c>//</c>/<c>%</c>,
/// <c>**</c>, unary minus, then postfix (attributes, subscripts, calls) with filters and tests.
/// Anything else (<c>include</c>, <c>extends</c>, an unknown filter) fails here, naming the line and column.
/// </summary>
internal sealed class JinjaParser
{
    private static readonly HashSet<string> Unsupported = new(StringComparer.Ordinal)
    {
        "include", "extends", "block", "import", "from", "with", "autoescape", "trans", "do", "endwith", "endblock",
    };

    private readonly List<JinjaToken> _tokens;
    private readonly JinjaSourceMap _map;
    private int _index;

    private JinjaParser(List<JinjaToken> tokens, JinjaSourceMap map)
    {
        _tokens = tokens;
        _map = map;
    }

    public static List<JinjaStmt> Parse(string source)
    {
        var map = new JinjaSourceMap(source);
        var parser = new JinjaParser(JinjaLexer.Tokenize(source), map);
        var body = parser.ParseBody([], out _);
        return body;
    }

    private JinjaToken Current => _tokens[_index];

    private JinjaToken Next() => _tokens[_index++];

    private JinjaException Error(string message, JinjaToken? at = null)
    {
        var (line, column) = _map.Locate((at ?? Current).Position);
        return new JinjaException(message, line, column, isSyntax: true);
    }

    private static string Describe(JinjaToken token) => token.Kind switch
    {
        JinjaTokenKind.End => "end of the template",
        JinjaTokenKind.BlockEnd => "end of the statement '%}'",
        JinjaTokenKind.VariableEnd => "end of the expression '}}'",
        JinjaTokenKind.String => "a string",
        _ => $"'{token.Value}'",
    };

    private void Expect(JinjaTokenKind kind, string? value = null)
    {
        var token = Current;
        if (token.Kind != kind || (value is not null && token.Value != value))
        {
            var wanted = value is not null ? $"'{value}'" : kind switch
            {
                JinjaTokenKind.BlockEnd => "'%}'",
                JinjaTokenKind.VariableEnd => "'}}'",
                JinjaTokenKind.Name => "a name",
                _ => kind.ToString(),
            };
            throw Error($"expected {wanted}, found {Describe(token)}");
        }

        _index++;
    }

    private string ExpectName()
    {
        if (Current.Kind != JinjaTokenKind.Name)
        {
            throw Error($"expected a name, found {Describe(Current)}");
        }

        return Next().Value;
    }

    private bool SkipOperator(string op)
    {
        if (Current.IsOperator(op))
        {
            _index++;
            return true;
        }

        return false;
    }

    private bool SkipName(string name)
    {
        if (Current.IsName(name))
        {
            _index++;
            return true;
        }

        return false;
    }

    /// <summary>Parses statements until one of <paramref name="ends"/> opens a block; leaves the parser after that name.</summary>
    private List<JinjaStmt> ParseBody(string[] ends, out string end)
    {
        var body = new List<JinjaStmt>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case JinjaTokenKind.End:
                    if (ends.Length > 0)
                    {
                        throw Error($"unexpected end of template; expected {string.Join(" or ", ends.Select(e => $"'{{% {e} %}}'"))}", token);
                    }

                    end = string.Empty;
                    return body;
                case JinjaTokenKind.Text:
                    _index++;
                    body.Add(new TextStmt(token.Position, token.Value));
                    break;
                case JinjaTokenKind.VariableBegin:
                    _index++;
                    var expression = ParseTuple();
                    Expect(JinjaTokenKind.VariableEnd);
                    body.Add(new OutputStmt(token.Position, expression));
                    break;
                case JinjaTokenKind.BlockBegin:
                    _index++;
                    var keyword = Current;
                    if (keyword.Kind == JinjaTokenKind.Name && Array.IndexOf(ends, keyword.Value) >= 0)
                    {
                        _index++;
                        end = keyword.Value;
                        return body;
                    }

                    body.Add(ParseStatement());
                    break;
                default:
                    throw Error($"unexpected {Describe(token)}", token);
            }
        }
    }

    private JinjaStmt ParseStatement()
    {
        var keyword = Current;
        if (keyword.Kind != JinjaTokenKind.Name)
        {
            throw Error($"expected a statement name, found {Describe(keyword)}");
        }

        _index++;
        switch (keyword.Value)
        {
            case "if":
                return ParseIf(keyword);
            case "for":
                return ParseFor(keyword);
            case "set":
                return ParseSet(keyword);
            case "macro":
                return ParseMacro(keyword);
            case "call":
                return ParseCallBlock(keyword);
            case "filter":
                return ParseFilterBlock(keyword);
            case "generation":
                {
                    Expect(JinjaTokenKind.BlockEnd);
                    var body = ParseBody(["endgeneration"], out _);
                    Expect(JinjaTokenKind.BlockEnd);
                    return new BodyStmt(keyword.Position, body);
                }

            case "break":
            case "continue":
                Expect(JinjaTokenKind.BlockEnd);
                return new LoopControlStmt(keyword.Position, keyword.Value == "break" ? JinjaFlow.Break : JinjaFlow.Continue);
            default:
                throw Unsupported.Contains(keyword.Value)
                    ? Error($"the '{keyword.Value}' statement is not supported in chat templates", keyword)
                    : Error($"unknown statement '{keyword.Value}'", keyword);
        }
    }

    private IfStmt ParseIf(JinjaToken keyword)
    {
        var branches = new List<(JinjaExpr, List<JinjaStmt>)>();
        List<JinjaStmt>? otherwise = null;
        var test = ParseTuple();
        while (true)
        {
            Expect(JinjaTokenKind.BlockEnd);
            var body = ParseBody(["elif", "else", "endif"], out var end);
            branches.Add((test, body));
            if (end == "elif")
            {
                test = ParseTuple();
                continue;
            }

            if (end == "else")
            {
                Expect(JinjaTokenKind.BlockEnd);
                otherwise = ParseBody(["endif"], out _);
            }

            Expect(JinjaTokenKind.BlockEnd);
            return new IfStmt(keyword.Position, branches, otherwise);
        }
    }

    private ForStmt ParseFor(JinjaToken keyword)
    {
        var targets = ParseTargets();
        Expect(JinjaTokenKind.Name, "in");
        var iterable = ParseTuple(withCondition: false);
        JinjaExpr? filter = null;
        if (SkipName("if"))
        {
            filter = ParseExpression();
        }

        if (Current.IsName("recursive"))
        {
            throw Error("recursive loops are not supported in chat templates");
        }

        Expect(JinjaTokenKind.BlockEnd);
        var body = ParseBody(["endfor", "else"], out var end);
        List<JinjaStmt>? otherwise = null;
        if (end == "else")
        {
            Expect(JinjaTokenKind.BlockEnd);
            otherwise = ParseBody(["endfor"], out _);
        }

        Expect(JinjaTokenKind.BlockEnd);
        return new ForStmt(keyword.Position, targets, iterable, filter, body, otherwise);
    }

    private List<string> ParseTargets()
    {
        var parenthesized = SkipOperator("(");
        var targets = new List<string> { ExpectName() };
        while (SkipOperator(","))
        {
            if (Current.Kind != JinjaTokenKind.Name || Current.IsName("in"))
            {
                break;
            }

            targets.Add(ExpectName());
        }

        if (parenthesized)
        {
            Expect(JinjaTokenKind.Operator, ")");
        }

        return targets;
    }

    private JinjaStmt ParseSet(JinjaToken keyword)
    {
        var first = ExpectName();
        if (SkipOperator("."))
        {
            var attribute = ExpectName();
            Expect(JinjaTokenKind.Operator, "=");
            var value = ParseTuple();
            Expect(JinjaTokenKind.BlockEnd);
            return new SetAttributeStmt(keyword.Position, first, attribute, value);
        }

        var targets = new List<string> { first };
        while (SkipOperator(","))
        {
            targets.Add(ExpectName());
        }

        if (SkipOperator("="))
        {
            var value = ParseTuple();
            Expect(JinjaTokenKind.BlockEnd);
            return new SetStmt(keyword.Position, targets, value);
        }

        if (targets.Count > 1)
        {
            throw Error("a block set assigns one name");
        }

        JinjaExpr? filter = null;
        if (SkipOperator("|"))
        {
            filter = ParseFilterChain(new NameExpr(Current.Position, FilterBlockStmt.Slot));
        }

        Expect(JinjaTokenKind.BlockEnd);
        var body = ParseBody(["endset"], out _);
        Expect(JinjaTokenKind.BlockEnd);
        return new BlockSetStmt(keyword.Position, first, body, filter);
    }

    private MacroStmt ParseMacro(JinjaToken keyword)
    {
        var name = ExpectName();
        var parameters = ParseParameters();
        Expect(JinjaTokenKind.BlockEnd);
        var body = ParseBody(["endmacro"], out _);
        if (Current.Kind == JinjaTokenKind.Name)
        {
            _index++;
        }

        Expect(JinjaTokenKind.BlockEnd);
        return new MacroStmt(keyword.Position, new JinjaMacroDefinition(name, parameters, body));
    }

    private List<(string, JinjaExpr?)> ParseParameters()
    {
        var parameters = new List<(string, JinjaExpr?)>();
        Expect(JinjaTokenKind.Operator, "(");
        while (!SkipOperator(")"))
        {
            if (parameters.Count > 0)
            {
                Expect(JinjaTokenKind.Operator, ",");
                if (SkipOperator(")"))
                {
                    break;
                }
            }

            var parameter = ExpectName();
            parameters.Add((parameter, SkipOperator("=") ? ParseExpression() : null));
        }

        return parameters;
    }

    private CallBlockStmt ParseCallBlock(JinjaToken keyword)
    {
        var parameters = Current.IsOperator("(") ? ParseParameters() : [];
        var call = ParsePrimaryWithPostfix() as CallExpr ?? throw Error("expected a macro call after 'call'", keyword);
        Expect(JinjaTokenKind.BlockEnd);
        var body = ParseBody(["endcall"], out _);
        Expect(JinjaTokenKind.BlockEnd);
        return new CallBlockStmt(keyword.Position, call, new JinjaMacroDefinition("caller", parameters, body));
    }

    private FilterBlockStmt ParseFilterBlock(JinjaToken keyword)
    {
        var filter = ParseFilterChain(new NameExpr(keyword.Position, FilterBlockStmt.Slot));
        Expect(JinjaTokenKind.BlockEnd);
        var body = ParseBody(["endfilter"], out _);
        Expect(JinjaTokenKind.BlockEnd);
        return new FilterBlockStmt(keyword.Position, filter, body);
    }

    /// <summary>A tuple without parentheses (<c>{{ a, b }}</c>, <c>set x = 1, 2</c>) or a single expression.</summary>
    private JinjaExpr ParseTuple(bool withCondition = true)
    {
        var start = Current.Position;
        var first = withCondition ? ParseExpression() : ParseOr();
        if (!Current.IsOperator(","))
        {
            return first;
        }

        var items = new List<JinjaExpr> { first };
        while (SkipOperator(","))
        {
            if (Current.Kind is JinjaTokenKind.BlockEnd or JinjaTokenKind.VariableEnd || Current.IsName("if"))
            {
                break;
            }

            items.Add(withCondition ? ParseExpression() : ParseOr());
        }

        return new TupleExpr(start, items);
    }

    private JinjaExpr ParseExpression()
    {
        var expression = ParseOr();
        while (Current.IsName("if"))
        {
            var position = Next().Position;
            var test = ParseOr();
            JinjaExpr? otherwise = null;
            if (SkipName("else"))
            {
                otherwise = ParseExpression();
            }

            expression = new CondExpr(position, test, expression, otherwise);
        }

        return expression;
    }

    private JinjaExpr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var position = Next().Position;
            left = new OrExpr(position, left, ParseAnd());
        }

        return left;
    }

    private JinjaExpr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var position = Next().Position;
            left = new AndExpr(position, left, ParseNot());
        }

        return left;
    }

    private JinjaExpr ParseNot()
    {
        if (Current.IsName("not"))
        {
            var position = Next().Position;
            return new NotExpr(position, ParseNot());
        }

        return ParseCompare();
    }

    private JinjaExpr ParseCompare()
    {
        var start = Current.Position;
        var first = ParseMath1();
        List<(string, JinjaExpr)>? rest = null;
        while (true)
        {
            string op;
            var token = Current;
            if (token.Kind == JinjaTokenKind.Operator && token.Value is "==" or "!=" or "<" or "<=" or ">" or ">=")
            {
                _index++;
                op = token.Value;
            }
            else if (token.IsName("in"))
            {
                _index++;
                op = "in";
            }
            else if (token.IsName("not") && _tokens[_index + 1].IsName("in"))
            {
                _index += 2;
                op = "not in";
            }
            else
            {
                break;
            }

            (rest ??= []).Add((op, ParseMath1()));
        }

        return rest is null ? first : new CompareExpr(start, first, rest);
    }

    private JinjaExpr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.Kind == JinjaTokenKind.Operator && Current.Value is "+" or "-")
        {
            var token = Next();
            left = new BinaryExpr(token.Position, token.Value, left, ParseConcat());
        }

        return left;
    }

    private JinjaExpr ParseConcat()
    {
        var start = Current.Position;
        var first = ParseMath2();
        if (!Current.IsOperator("~"))
        {
            return first;
        }

        var parts = new List<JinjaExpr> { first };
        while (SkipOperator("~"))
        {
            parts.Add(ParseMath2());
        }

        return new ConcatExpr(start, parts);
    }

    private JinjaExpr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == JinjaTokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            var token = Next();
            left = new BinaryExpr(token.Position, token.Value, left, ParsePow());
        }

        return left;
    }

    private JinjaExpr ParsePow()
    {
        var left = ParseUnary();
        while (Current.IsOperator("**"))
        {
            var token = Next();
            left = new BinaryExpr(token.Position, "**", left, ParseUnary());
        }

        return left;
    }

    private JinjaExpr ParseUnary(bool withFilter = true)
    {
        var token = Current;
        JinjaExpr node;
        if (token.IsOperator("-") || token.IsOperator("+"))
        {
            _index++;
            node = new NegateExpr(token.Position, ParseUnary(withFilter: false), token.Value == "-");
        }
        else
        {
            node = ParsePrimaryWithPostfix();
        }

        return withFilter ? ParseFilters(node) : node;
    }

    /// <summary>Filters (<c>|name(args)</c>), tests (<c>is [not] name args</c>) and calls after an operand.</summary>
    private JinjaExpr ParseFilters(JinjaExpr node)
    {
        while (true)
        {
            if (SkipOperator("|"))
            {
                node = ParseFilterChain(node);
            }
            else if (Current.IsName("is"))
            {
                var position = Next().Position;
                var negated = SkipName("not");
                var nameToken = Current;
                var name = nameToken.Kind switch
                {
                    JinjaTokenKind.Name => Next().Value,
                    JinjaTokenKind.Operator when nameToken.Value is "==" or "!=" or "<" or "<=" or ">" or ">=" => Next().Value,
                    _ => throw Error($"expected a test name after 'is', found {Describe(nameToken)}"),
                };
                if (!JinjaTests.Exists(name))
                {
                    throw Error($"no test named '{name}'", nameToken);
                }

                JinjaArguments arguments;
                if (Current.IsOperator("("))
                {
                    arguments = ParseArguments();
                }
                else if (Current.Kind is JinjaTokenKind.String or JinjaTokenKind.Integer or JinjaTokenKind.Float
                    || (Current.Kind == JinjaTokenKind.Name && Current.Value is not ("else" or "or" or "and" or "if" or "is" or "in" or "not")))
                {
                    arguments = new JinjaArguments([ParsePrimaryWithPostfix()], []);
                }
                else
                {
                    arguments = JinjaArguments.None;
                }

                node = new TestExpr(position, node, name, arguments, negated);
            }
            else if (Current.IsOperator("("))
            {
                var position = Current.Position;
                node = new CallExpr(position, node, ParseArguments());
            }
            else
            {
                return node;
            }
        }
    }

    /// <summary>One or more filters: <c>|name</c>, <c>|name(args)</c>; the filter block's head has no leading pipe.</summary>
    private JinjaExpr ParseFilterChain(JinjaExpr node)
    {
        do
        {
            var nameToken = Current;
            var name = ExpectName();
            while (SkipOperator("."))
            {
                name += "." + ExpectName();
            }

            if (!JinjaFilters.Exists(name))
            {
                throw Error($"no filter named '{name}'", nameToken);
            }

            var arguments = Current.IsOperator("(") ? ParseArguments() : JinjaArguments.None;
            node = new FilterExpr(nameToken.Position, node, name, arguments);
        }
        while (SkipOperator("|"));

        return node;
    }

    private JinjaArguments ParseArguments()
    {
        Expect(JinjaTokenKind.Operator, "(");
        var positional = new List<JinjaExpr>();
        var keywords = new List<KeyValuePair<string, JinjaExpr>>();
        while (!SkipOperator(")"))
        {
            if (positional.Count + keywords.Count > 0)
            {
                Expect(JinjaTokenKind.Operator, ",");
                if (SkipOperator(")"))
                {
                    break;
                }
            }

            if (Current.IsOperator("*") || Current.IsOperator("**"))
            {
                throw Error("'*args' and '**kwargs' in calls are not supported in chat templates");
            }

            if (Current.Kind == JinjaTokenKind.Name && _tokens[_index + 1].IsOperator("="))
            {
                var name = Next().Value;
                _index++;
                keywords.Add(new(name, ParseExpression()));
            }
            else
            {
                if (keywords.Count > 0)
                {
                    throw Error("a positional argument follows keyword arguments");
                }

                positional.Add(ParseExpression());
            }
        }

        return new JinjaArguments(positional, keywords);
    }

    private JinjaExpr ParsePrimaryWithPostfix()
    {
        var node = ParsePrimary();
        while (true)
        {
            var token = Current;
            if (token.IsOperator("."))
            {
                _index++;
                var name = Current;
                if (name.Kind == JinjaTokenKind.Name)
                {
                    _index++;
                    node = new AttrExpr(token.Position, node, name.Value);
                }
                else if (name.Kind == JinjaTokenKind.Integer)
                {
                    _index++;
                    node = new ItemExpr(token.Position, node, new ConstExpr(name.Position, name.Literal));
                }
                else
                {
                    throw Error($"expected an attribute name after '.', found {Describe(name)}");
                }
            }
            else if (token.IsOperator("["))
            {
                _index++;
                node = ParseSubscript(token.Position, node);
            }
            else if (token.IsOperator("("))
            {
                node = new CallExpr(token.Position, node, ParseArguments());
            }
            else
            {
                return node;
            }
        }
    }

    private JinjaExpr ParseSubscript(int position, JinjaExpr target)
    {
        JinjaExpr? start = null;
        if (!Current.IsOperator(":"))
        {
            start = ParseExpression();
            if (SkipOperator("]"))
            {
                return new ItemExpr(position, target, start);
            }
        }

        Expect(JinjaTokenKind.Operator, ":");
        JinjaExpr? stop = null;
        JinjaExpr? step = null;
        if (!Current.IsOperator("]") && !Current.IsOperator(":"))
        {
            stop = ParseExpression();
        }

        if (SkipOperator(":") && !Current.IsOperator("]"))
        {
            step = ParseExpression();
        }

        Expect(JinjaTokenKind.Operator, "]");
        return new SliceExpr(position, target, start, stop, step);
    }

    private JinjaExpr ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case JinjaTokenKind.Name:
                _index++;
                return token.Value switch
                {
                    "true" or "True" => new ConstExpr(token.Position, true),
                    "false" or "False" => new ConstExpr(token.Position, false),
                    "none" or "None" => new ConstExpr(token.Position, null),
                    _ => new NameExpr(token.Position, token.Value),
                };
            case JinjaTokenKind.String:
                {
                    _index++;
                    var value = (string)token.Literal!;
                    while (Current.Kind == JinjaTokenKind.String)
                    {
                        value += (string)Next().Literal!;
                    }

                    return new ConstExpr(token.Position, value);
                }

            case JinjaTokenKind.Integer:
            case JinjaTokenKind.Float:
                _index++;
                return new ConstExpr(token.Position, token.Literal);
            case JinjaTokenKind.Operator when token.Value == "(":
                {
                    _index++;
                    if (SkipOperator(")"))
                    {
                        return new TupleExpr(token.Position, []);
                    }

                    var first = ParseExpression();
                    if (SkipOperator(")"))
                    {
                        return first;
                    }

                    var items = new List<JinjaExpr> { first };
                    while (SkipOperator(","))
                    {
                        if (Current.IsOperator(")"))
                        {
                            break;
                        }

                        items.Add(ParseExpression());
                    }

                    Expect(JinjaTokenKind.Operator, ")");
                    return new TupleExpr(token.Position, items);
                }

            case JinjaTokenKind.Operator when token.Value == "[":
                {
                    _index++;
                    var items = new List<JinjaExpr>();
                    while (!SkipOperator("]"))
                    {
                        if (items.Count > 0)
                        {
                            Expect(JinjaTokenKind.Operator, ",");
                            if (SkipOperator("]"))
                            {
                                break;
                            }
                        }

                        items.Add(ParseExpression());
                    }

                    return new ListExpr(token.Position, items);
                }

            case JinjaTokenKind.Operator when token.Value == "{":
                {
                    _index++;
                    var entries = new List<(JinjaExpr, JinjaExpr)>();
                    while (!SkipOperator("}"))
                    {
                        if (entries.Count > 0)
                        {
                            Expect(JinjaTokenKind.Operator, ",");
                            if (SkipOperator("}"))
                            {
                                break;
                            }
                        }

                        var key = ParseExpression();
                        Expect(JinjaTokenKind.Operator, ":");
                        entries.Add((key, ParseExpression()));
                    }

                    return new DictExpr(token.Position, entries);
                }

            default:
                throw Error($"unexpected {Describe(token)}");
        }
    }
}
