#!/usr/bin/env bash
# Copy GraphiQL's browser bundles from the npm registry into app/static/graphiql.
# The result is committed, so `make run` works without npm or a network;
# run this (`make graphiql-assets`) only to change versions.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../../app/static/graphiql"
cd "$here"
npm ci --no-audit --no-fund --silent
nm="$here/node_modules"
mkdir -p "$out/licenses"
cp "$nm/graphiql/graphiql.min.js" "$nm/graphiql/graphiql.min.css" "$out/"
cp "$nm/react/umd/react.production.min.js" "$out/"
cp "$nm/react-dom/umd/react-dom.production.min.js" "$out/"
cp "$nm/graphql-ws/umd/graphql-ws.min.js" "$out/"
for pkg in graphiql react react-dom graphql-ws; do
  cp "$nm/$pkg/LICENSE"* "$out/licenses/$pkg.LICENSE"
done
node -e '
const v = (p) => require(`${process.argv[1]}/${p}/package.json`).version;
const pkgs = ["graphiql", "react", "react-dom", "graphql-ws"];
console.log(JSON.stringify(Object.fromEntries(pkgs.map((p) => [p, v(p)])), null, 2));
' "$nm" > "$out/versions.json"
echo "vendored into $out:"; cat "$out/versions.json"
