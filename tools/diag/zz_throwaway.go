package diag

import _ "github.com/tailops/tailops/tools/files" // throwaway: proves TestToolsetsAreIndependent fails
