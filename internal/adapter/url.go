package adapter

import "strings"

// JoinURL appends path to base's path, keeping base's query at the end:
// JoinURL("https://h/openai/deployments/d?api-version=1", "/chat/completions")
// is "https://h/openai/deployments/d/chat/completions?api-version=1". A
// query in path (Gemini's "?alt=sse", a template path) follows base's
// with "&". Adapters call it once, when they are built, never per request.
func JoinURL(base, path string) string {
	root, baseQuery := CutQuery(base)
	path, pathQuery := CutQuery(path)
	switch {
	case baseQuery == "":
		return root + path + pathQuery
	case pathQuery == "":
		return root + path + baseQuery
	default:
		return root + path + baseQuery + "&" + pathQuery[1:]
	}
}

// CutQuery splits a URL into what comes before its query and the query
// with its "?" (empty when there is none), so that an adapter can look
// at or change the end of the path ("/v1") of a base URL that has one.
func CutQuery(u string) (beforeQuery, query string) {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i], u[i:]
	}
	return u, ""
}
