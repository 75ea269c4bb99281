package api_test

import "aigateway/internal/api"

// defaultDialects are the inbound APIs of every test gateway, as
// cmd/aigateway serves them.
func defaultDialects() api.Dialects {
	return api.Dialects{}
}
