// Starts GraphiQL on the gateway's own assets (see app/graphql/graphiql.py).
// Queries and mutations go over HTTP with the headers from the Headers tab;
// subscriptions go over graphql-transport-ws, with the Authorization header
// sent as the connection_init payload (browsers cannot set WebSocket headers).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  var endpoint = new URL(config.endpoint, window.location.href);
  var wsUrl = new URL(endpoint.href);
  wsUrl.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  var httpFetcher = GraphiQL.createFetcher({ url: endpoint.href });
  var ws = null;
  var wsAuth = null;

  function authorization(headers) {
    if (!headers) return "";
    return headers.Authorization || headers.authorization || "";
  }

  function wsClient(headers) {
    var auth = authorization(headers);
    if (ws === null || auth !== wsAuth) {
      if (ws !== null) ws.dispose();
      wsAuth = auth;
      ws = graphqlWs.createClient({
        url: wsUrl.href,
        lazy: true,
        connectionParams: auth ? { Authorization: auth } : {},
      });
    }
    return ws;
  }

  // The operation's type: from GraphiQL's parsed document when it matches
  // the request, else from the text (comments and strings stripped).
  function isSubscription(params, opts) {
    var doc = opts && opts.documentAST;
    var ops = doc ? doc.definitions.filter(function (d) { return d.kind === "OperationDefinition"; }) : [];
    var op = ops.find(function (d) { return d.name && d.name.value === params.operationName; });
    if (!op && ops.length === 1 && !params.operationName) op = ops[0];
    if (op) return op.operation === "subscription";
    var text = (params.query || "").replace(/#[^\n]*/g, "").replace(/"(?:[^"\\]|\\.)*"/g, '""');
    var re = /(query|mutation|subscription)\s*([_A-Za-z][_0-9A-Za-z]*)?/g;
    var match, first = null;
    while ((match = re.exec(text)) !== null) {
      if (first === null) first = match[1];
      if (params.operationName && match[2] === params.operationName) return match[1] === "subscription";
    }
    return first === "subscription";
  }

  function fetcher(params, opts) {
    if (!isSubscription(params, opts)) return httpFetcher(params, opts);
    var client = wsClient(opts && opts.headers);
    return {
      subscribe: function (observer) {
        var sink = {
          next: function (value) { observer.next(value); },
          error: function (err) {
            var message = err && err.reason ? "WebSocket closed: " + err.code + " " + err.reason : String(err);
            observer.error(Array.isArray(err) ? { errors: err } : new Error(message));
          },
          complete: function () { observer.complete(); },
        };
        var dispose = client.subscribe(params, sink);
        return { unsubscribe: dispose };
      },
    };
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.defaultQuery,
      defaultHeaders: config.defaultHeaders,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
    })
  );
})();
