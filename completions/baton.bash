# bash completion for baton(1). Installed as share/bash-completion/completions/baton; works with
# or without the bash-completion package (source it from ~/.bashrc otherwise).

# Files matching a glob suffix, and directories to descend into.
_baton_files()
{
	local cur=$1 glob=$2 f
	local IFS=$'\n'
	compopt -o filenames 2>/dev/null
	COMPREPLY+=($(compgen -d -- "$cur"))
	for f in $(compgen -f -- "$cur"); do
		[[ -d $f ]] && continue
		# shellcheck disable=SC2053
		[[ $f == $glob ]] && COMPREPLY+=("$f")
	done
}

# Unix sockets (baton's control sockets), and directories to descend into.
_baton_sockets()
{
	local cur=$1 f
	local IFS=$'\n'
	compopt -o filenames 2>/dev/null
	COMPREPLY+=($(compgen -d -- "$cur"))
	for f in $(compgen -f -- "$cur"); do
		[[ -S $f ]] && COMPREPLY+=("$f")
	done
}

_baton()
{
	local cur prev cmd i
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}

	# --opt=value: bash splits at '=' (COMP_WORDBREAKS), giving "--opt" "=" "value"
	if [[ $cur == = ]]; then
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ $cur == --*=* ]]; then
		prev=${cur%%=*}
		cur=${cur#*=}
	fi

	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		dev | run | reload | status | stop | upgrade | promote | abort | rollback | check | watch | init)
			cmd=${COMP_WORDS[i]}
			break
			;;
		esac
	done

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '-h --help -V --version' -- "$cur"))
		else
			COMPREPLY=($(compgen -W 'dev run reload status stop upgrade promote abort rollback check watch init help version' \
				-- "$cur"))
		fi
		return 0
	fi

	# after "--" (dev, run) the words are the app's arguments
	for ((i = i + 1; i < COMP_CWORD; i++)); do
		if [[ ${COMP_WORDS[i]} == -- ]] && [[ $cmd == dev || $cmd == run ]]; then
			compopt -o default 2>/dev/null
			return 0
		fi
	done

	case $prev in
	-c | --config)
		_baton_files "$cur" '*.toml'
		return 0
		;;
	-s | --socket)
		[[ $cmd == reload || $cmd == status || $cmd == stop || $cmd == upgrade || $cmd == promote || $cmd == abort || $cmd == rollback ]] && _baton_sockets "$cur"
		return 0
		;;
	-t | --timeout | --debounce | --fast-settle)
		return 0
		;;
	--poll)
		COMPREPLY=($(compgen -W 'auto off 500ms 1s' -- "$cur"))
		return 0
		;;
	esac

	local opts
	case $cmd in
	dev | run) opts='-c --config -h --help --' ;;
	reload | stop | upgrade | promote | abort | rollback) opts='-c --config -s --socket -t --timeout -h --help' ;;
	status) opts='-c --config -s --socket --json -t --timeout -h --help' ;;
	check) opts='-c --config --print -h --help' ;;
	watch) opts='-c --config --debounce --fast-settle --poll -h --help' ;;
	init) opts='--force -h --help' ;;
	esac

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	elif [[ $cmd == watch ]]; then
		# PATH...: directories and files to watch
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
	return 0
}

complete -F _baton baton
