package sandbox

import _ "github.com/shirou/gopsutil/v4/cpu" // throwaway: proves TestDeps fails
